"""The Models page: per model the kept versions with their status, pin / unpin, a large Rollback
button that names where it goes, the history timeline and the device's signature policy.

Store actions from anywhere (this console, edgectl, another laptop) show live above the tables.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from console.core.models.tracker import (
    ModelEntry,
    RollbackPlan,
    created_text,
    move_text,
    policy_text,
    removal_plan,
    result_words,
    rollback_blocker,
    rollback_plan,
    signer_text,
    status_words,
    timeline,
    when_text,
)
from console.core.text_units import size as size_text
from console.ui.charts.chart import plain_label
from console.ui.models.deploy_wizard import DeployWizard
from console.ui.models.qt_models import QtModels
from console.ui.models.rollback_dialog import LEVEL_COLORS, RollbackDialog, big_button, coloured
from device_runtime.protocol import StoreAction

VERSION_COLUMNS = ("Version", "Status", "Created", "Precision", "Backend", "Size", "Signer")
HISTORY_COLUMNS = ("When", "Action", "From → To", "Result", "Who", "Why")


def _table(columns: tuple[str, ...]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(32)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.horizontalHeader().setStretchLastSection(True)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    return table


def _item(text: str, level: str | None = None, tip: str = "") -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if level is not None:
        item.setForeground(QColor(LEVEL_COLORS[level]))
    if tip:
        item.setToolTip(tip)
    return item


class ModelsPage(QWidget):
    def __init__(self, models: QtModels, keys_dir: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.models = models
        self.keys_dir = keys_dir
        self.selected: str | None = None
        self.rollback_dialog: RollbackDialog | None = None
        self.wizard: DeployWizard | None = None
        self._shown = False

        self.deploy_button = QPushButton("Deploy…")
        self.deploy_button.setMinimumHeight(32)
        self.deploy_button.setToolTip("Upload a package or an ONNX model, verify it and make it active")
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setMinimumHeight(32)
        self.policy = plain_label("Signature policy: …")
        self.policy.setObjectName("DashboardNotice")
        self.notice = plain_label()
        coloured(self.notice, "bad")
        bar = QHBoxLayout()
        for bar_button in (self.deploy_button, self.refresh_button):
            bar.addWidget(bar_button)
        bar.addWidget(self.policy, 1)
        bar.addWidget(self.notice)

        self.model_list = QListWidget()
        self.model_list.setMinimumWidth(200)
        self.title = plain_label("No models yet")
        self.title.setObjectName("GroupHeader")
        self.summary = plain_label("Deploy a package or an ONNX model to %s to start." % models.display_name)
        self.summary.setWordWrap(True)
        self.rollback_button = big_button("Roll back", primary=True)
        self.rollback_button.setEnabled(False)
        self.activity = plain_label()
        self.activity.setWordWrap(True)
        self.activity.setVisible(False)
        self.activity_bar = QProgressBar()
        self.activity_bar.setRange(0, 100)
        self.activity_bar.setVisible(False)
        self.versions = _table(VERSION_COLUMNS)
        self.pin_button = QPushButton("Pin")
        self.unpin_button = QPushButton("Unpin")
        self.switch_button = QPushButton("Activate this version…")
        self.remove_button = QPushButton("Remove version…")
        self.remove_model_button = QPushButton("Remove model…")
        self.remove_model_button.setToolTip("Remove every stored version of this model and its state from the device")
        self.remove_dialog: QMessageBox | None = None
        for version_button in (self.pin_button, self.unpin_button, self.switch_button, self.remove_button,
                               self.remove_model_button):
            version_button.setMinimumHeight(32)
            version_button.setEnabled(False)
        self.pin_button.setToolTip("Pinned versions are never removed by retention")
        self.history = _table(HISTORY_COLUMNS)
        history_title = plain_label("History")
        history_title.setObjectName("GroupHeader")

        version_bar = QHBoxLayout()
        for button in (self.pin_button, self.unpin_button, self.switch_button):
            version_bar.addWidget(button)
        version_bar.addStretch(1)
        version_bar.addWidget(self.remove_button)
        version_bar.addWidget(self.remove_model_button)
        detail = QWidget()
        right = QVBoxLayout(detail)
        right.setContentsMargins(8, 0, 0, 0)
        for widget in (self.title, self.summary, self.rollback_button, self.activity, self.activity_bar):
            right.addWidget(widget)
        right.addWidget(self.versions, 2)
        right.addLayout(version_bar)
        right.addWidget(history_title)
        right.addWidget(self.history, 3)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.model_list)
        split.addWidget(detail)
        split.setSizes([220, 980])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addLayout(bar)
        layout.addWidget(split, 1)

        self.deploy_button.clicked.connect(self.open_deploy_wizard)
        self.refresh_button.clicked.connect(self._on_refresh)
        self.rollback_button.clicked.connect(lambda: self.open_rollback(None))
        self.switch_button.clicked.connect(self._on_switch)
        self.remove_button.clicked.connect(lambda: self.open_remove(self.selected_version()))
        self.remove_model_button.clicked.connect(lambda: self.open_remove(None))
        self.pin_button.clicked.connect(lambda: self._on_pin(True))
        self.unpin_button.clicked.connect(lambda: self._on_pin(False))
        self.model_list.currentTextChanged.connect(self._on_model_chosen)
        self.versions.itemSelectionChanged.connect(self._update_version_buttons)
        models.changed.connect(self._on_changed)
        models.actionChanged.connect(self._on_action)
        models.failed.connect(self.notice.setText)
        self._on_changed()  # the model may have loaded before this page existed

    # -- what tests and --screenshot read ------------------------------------------------------
    def ready(self) -> bool:
        """The device's models are shown (for --screenshot)."""
        return self._shown

    def entry(self) -> ModelEntry | None:
        return self.models.tracker.entry(self.selected) if self.selected else None

    def version_cell(self, row: int, column: str) -> str:
        item = self.versions.item(row, VERSION_COLUMNS.index(column))
        return item.text() if item is not None else ""

    def history_cell(self, row: int, column: str) -> str:
        item = self.history.item(row, HISTORY_COLUMNS.index(column))
        return item.text() if item is not None else ""

    def select_version(self, version: str) -> None:
        for row in range(self.versions.rowCount()):
            if self.version_cell(row, "Version") == version:
                self.versions.selectRow(row)

    def selected_version(self) -> str | None:
        rows = self.versions.selectionModel().selectedRows()
        return self.version_cell(rows[0].row(), "Version") if rows else None

    # -- user intent ---------------------------------------------------------------------------
    def open_deploy_wizard(self) -> DeployWizard:
        self.wizard = DeployWizard(self.models, self.keys_dir, self)
        self.wizard.open()
        return self.wizard

    def open_rollback(self, to: str | None) -> RollbackDialog | None:
        """The big button (``to`` None) or an explicit choice of version: ask once, then go."""
        entry = self.entry()
        plan = rollback_plan(entry.versions, to) if entry is not None else None
        if plan is None or self.models.busy():
            return None
        dialog = RollbackDialog(self.models, plan, parent=self)
        dialog.finished.connect(lambda _code: setattr(self, "rollback_dialog", None))
        self.rollback_dialog = dialog
        dialog.open()
        return dialog

    def open_remove(self, version: str | None) -> QMessageBox | None:
        """Ask, naming what goes (and the active version, if it is among it), then remove."""
        entry = self.entry()
        if entry is None or self.models.busy():
            return None
        plan = removal_plan(entry.versions, version)
        box = QMessageBox(QMessageBox.Icon.Warning, "Remove from %s" % self.models.display_name, plan.question,
                          QMessageBox.StandardButton.Cancel, self)
        remove = box.addButton("Remove", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(lambda button: self.models.remove(plan) if button is remove else None)
        box.finished.connect(lambda _code: setattr(self, "remove_dialog", None))
        self.remove_dialog = box
        box.open()
        return box

    def _on_switch(self) -> None:
        version = self.selected_version()
        if version is not None:
            self.open_rollback(version)

    def _on_pin(self, pinned: bool) -> None:
        version = self.selected_version()
        if self.selected is not None and version is not None:
            self.notice.setText("")
            self.models.pin(self.selected, version, pinned)

    def _on_refresh(self) -> None:
        self.notice.setText("")
        self.models.refresh()

    # -- model -> view -------------------------------------------------------------------------
    def _on_changed(self) -> None:
        snapshot = self.models.tracker.snapshot
        self.policy.setText("Signature policy: %s" % policy_text(snapshot.policy))
        names = sorted(snapshot.models)
        current = self.selected if self.selected in snapshot.models else (names[0] if names else None)
        self.model_list.blockSignals(True)
        self.model_list.clear()
        for name in names:
            active = snapshot.models[name].versions.active
            item = QListWidgetItem("%s\n%s" % (name, "active %s" % active if active else "no active version"))
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setSizeHint(QSize(0, 44))
            self.model_list.addItem(item)
            if name == current:
                self.model_list.setCurrentItem(item)
        self.model_list.blockSignals(False)
        self.selected = current
        self._show_model()
        self._shown = snapshot.loaded
        if not self.models.busy():
            self.activity_bar.setVisible(False)

    def _on_model_chosen(self, _text: str) -> None:
        item = self.model_list.currentItem()
        self.selected = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        self._show_model()

    def _show_model(self) -> None:
        entry = self.entry()
        if entry is None:
            self.title.setText("No models yet")
            self.summary.setText("Deploy a package or an ONNX model to %s to start." % self.models.display_name)
            self.versions.setRowCount(0)
            self.history.setRowCount(0)
            self._update_rollback(None)
            return
        v = entry.versions
        self.title.setText(entry.model.name)
        self.summary.setText(" · ".join([
            "active %s" % (v.active or "none"), "previous %s" % (v.previous or "none"),
            "%d version%s kept" % (len(v.versions), "" if len(v.versions) == 1 else "s"),
            "security floor %d" % v.floor]))
        chosen = self.selected_version()
        self.versions.setRowCount(len(v.versions))
        for row, version in enumerate(v.versions):
            words = status_words(version)
            cells = [_item(version.version), _item("  ".join(w for w, _ in words), words[0][1], version.reason),
                     _item(created_text(version.created), tip="by %s" % version.author if version.author else ""),
                     _item(version.precision or "-"), _item(version.backend or "-"),
                     _item(size_text(version.size_bytes)), _item(signer_text(version.signer))]
            for column, cell in enumerate(cells):
                self.versions.setItem(row, column, cell)
        if chosen is not None:
            self.select_version(chosen)
        self._fill_history(entry)
        self._update_rollback(entry)
        self._update_version_buttons()

    def _fill_history(self, entry: ModelEntry) -> None:
        rows = timeline(entry.history)
        self.history.setRowCount(len(rows))
        for row, e in enumerate(rows):
            result, level = result_words(e)
            cells = [_item(when_text(e.t)), _item(e.action), _item(move_text(e)), _item(result, level, e.detail),
                     _item(e.who or "-"), _item(e.why, tip=e.detail)]
            for column, cell in enumerate(cells):
                self.history.setItem(row, column, cell)

    def _update_rollback(self, entry: ModelEntry | None) -> None:
        plan: RollbackPlan | None = rollback_plan(entry.versions) if entry is not None else None
        blocker = rollback_blocker(entry.versions, plan.target) if entry is not None and plan is not None else None
        if plan is None:
            self.rollback_button.setText("Roll back: no earlier version kept" if entry is not None else "Roll back")
        else:
            self.rollback_button.setText(plan.button_text())
        self.rollback_button.setToolTip(blocker or "")
        self.rollback_button.setEnabled(plan is not None and blocker is None and not self.models.busy())

    def _update_version_buttons(self) -> None:
        entry, version = self.entry(), self.selected_version()
        row = next((v for v in entry.versions.versions if v.version == version), None) if entry else None
        busy = self.models.busy()
        self.pin_button.setEnabled(row is not None and "pinned" not in row.status)
        self.unpin_button.setEnabled(row is not None and "pinned" in row.status)
        can_switch = (entry is not None and row is not None and row.version != entry.versions.active
                      and "corrupt" not in row.status and not busy)
        self.switch_button.setEnabled(can_switch)
        self.remove_button.setEnabled(row is not None and "pinned" not in row.status and not busy)
        self.remove_model_button.setEnabled(entry is not None and not busy)

    def _on_action(self, action: StoreAction) -> None:
        running = self.models.tracker.running()
        if running is None:
            self.activity_bar.setVisible(False)
            text = "Last: %s" % action.message if action.message else ""
            self.activity.setText(text)
            self.activity.setVisible(bool(text))
            coloured(self.activity, "ok" if action.state == "succeeded" else "bad")
        else:
            what = " ".join(p for p in (running.kind, running.name or "", running.version or "") if p)
            self.activity.setText("%s on %s: %s" % (what, self.models.display_name, running.stage))
            coloured(self.activity, "warn")
            self.activity.setVisible(True)
            self.activity_bar.setValue(round(running.progress * 100))
            self.activity_bar.setVisible(True)
        self._update_rollback(self.entry())
        self._update_version_buttons()

