"""The Fleet page: every registered device in one grid, and actions on the rows chosen.

The grid shows each device's state (a word and a dot), board, JetPack, runtime, each model's active
version, health, hottest temperature, open alerts and last benchmark; it sorts by any column and filters
by text and by the tags devices carry. The selected rows can run their health checks, take a package in a
staged rollout (canary, waves, a failure threshold) or roll a model back. Each action shows its stage and
every device's outcome as it comes; its record is listed below, and a rollout stopped or cut off (the
console closed mid-rollout) can be resumed or abandoned there.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt
from PySide6.QtGui import QBrush, QColor, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from console.core.fleet.records import RolloutRecord
from console.core.fleet.rollout import DeployPlan
from console.core.fleet.runner import FAILED, OK, SKIPPED, UNREACHABLE, DeviceOutcome
from console.core.fleet.waves import parse_waves, plan_waves
from console.ui.charts.chart import plain_label
from console.ui.fleet.model import COL, NAME_ROLE, ActionResult, FleetActions, FleetFilter, FleetWatcher
from console.ui.health.qt_health import HEALTH_COLORS

BUTTON_HEIGHT = 32
OUTCOME_COLORS = {OK: HEALTH_COLORS["healthy"], FAILED: HEALTH_COLORS["unhealthy"],
                  UNREACHABLE: HEALTH_COLORS["unhealthy"], SKIPPED: HEALTH_COLORS["unknown"]}
RECORD_COLUMNS = ("Started", "Kind", "What", "Who", "Outcome", "State")
DETAIL_COLUMNS = ("Device", "Step", "Wave", "Outcome", "Time", "What happened")


def when(t: float | None, short: bool = False) -> str:
    return time.strftime("%m-%d %H:%M" if short else "%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "-"


# The core's fleet code points at edgectl (its records serve the command line too); on this page its
# sentences point at the console's own windows instead.
_GUI_WORDS = (
    (re.compile(r"Run edgectl --device (\S+) health: it shows"), r"Open \1's Health page: it shows"),
    (re.compile(r"edgectl --device (\S+) versions MODEL lists"), r"\1's Models page lists"),
    (re.compile(r"edgectl fleet rollback MODEL --to VERSION"), "Roll back model… with the version in To version"),
    (re.compile(r"Check that it is on and its runtime is up: edgectl --device \S+ status"),
     "Check that it is on and its runtime is up; its row here says when it answers"),
    (re.compile(r"Once the fingerprint is confirmed: edgectl devices trust (\S+) --fingerprint (\S+)"),
     r"Open \1 from the device list to check its fingerprint (\2) and trust it"),
    (re.compile(r"edgectl fleet status shows where each one is"), "the grid shows where each one is"),
    (re.compile(r"name one with --to\b"), "give one in To version"),
    (re.compile(r"--max-failures"), "max failures"),
)


def gui_words(text: str) -> str:
    for pattern, words in _GUI_WORDS:
        text = pattern.sub(words, text)
    return text


def brief(outcome: DeviceOutcome) -> str:
    """A device's outcome in words: its failure and what to do, or what it now runs."""
    if outcome.why:
        return gui_words(outcome.why)
    detail = outcome.detail
    if detail.get("model") and detail.get("version"):
        result = str(detail.get("result") or "done").replace("_", " ")
        return "%s %s (%s)" % (detail["model"], detail["version"], result)
    if "health" in detail:
        return str(detail["health"])
    return ""


def what_text(record: RolloutRecord) -> str:
    what = record.what
    if record.kind == "deploy":
        name = Path(str(what.get("package", ""))).name
        return "%s (%s %s)" % (name, what["model"], what["version"]) if what.get("version") else name
    return "%s%s" % (what.get("model", ""), " to %s" % what["to"] if what.get("to") else "")


def counts_text(record: RolloutRecord) -> str:
    return ", ".join("%d %s" % (n, s) for s, n in sorted(record.counts().items()))


def progress_text(done: int, expected: int, elapsed_s: float) -> str:
    """``3 of 6 steps · about 12 s left``: the steps left at the pace so far (waves take their health checks'
    time, so this is a guess, and says so)."""
    text = "%d of %d steps" % (done, expected)
    if 0 < done < expected:
        left = elapsed_s / done * (expected - done)
        text += " · about %s left" % ("%.0f s" % left if left < 90 else "%.0f min" % (left / 60))
    return text


def _color(text: str) -> QBrush:
    return QBrush(QColor(text))


def _button(text: str, tip: str) -> QPushButton:
    button = QPushButton(text)
    button.setToolTip(tip)
    button.setMinimumHeight(BUTTON_HEIGHT)
    return button


class DeployDialog(QDialog):
    """A staged rollout's plan for the chosen devices; the plan in words is the question it asks."""

    def __init__(self, devices: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Deploy a package to %d device%s" % (len(devices), "" if len(devices) == 1 else "s"))
        self.devices = devices
        self.plan: DeployPlan | None = None
        self.package = QLineEdit()
        self.package.setPlaceholderText("a .tar.gz model package (edgectl package build makes one)")
        browse = _button("Browse…", "Choose the package")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.package, 1)
        row.addWidget(browse)
        self.canary = QSpinBox()
        self.canary.setRange(0, len(devices))
        self.canary.setValue(1 if len(devices) > 1 else 0)
        self.canary.setToolTip("Devices that take the package first, alone")
        self.waves = QLineEdit("100%")
        self.waves.setToolTip("Where each later wave ends: 25%,100% or 2,100% (the last one ends at 100%)")
        self.max_failures = QSpinBox()
        self.max_failures.setRange(0, len(devices))
        self.max_failures.setToolTip("The rollout stops once more devices than this failed")
        self.rollback_wave = QCheckBox("Roll back the failed wave's devices when the rollout stops")
        self.limit = QDoubleSpinBox()
        self.limit.setRange(0.0, 10_000.0)
        self.limit.setDecimals(1)
        self.limit.setSuffix(" MB/s")
        self.limit.setSpecialValueText("no cap")
        self.limit.setToolTip("All uploads together stay under this rate (no cap: as fast as the links go)")
        self.why = QLineEdit()
        self.why.setPlaceholderText("kept in each device's history and the rollout record")
        form = QFormLayout()
        form.addRow("Package", row)
        form.addRow("Canary devices", self.canary)
        form.addRow("Waves", self.waves)
        form.addRow("Max failures", self.max_failures)
        form.addRow("", self.rollback_wave)
        form.addRow("Bandwidth cap", self.limit)
        form.addRow("Why", self.why)
        self.summary = plain_label("")
        self.summary.setWordWrap(True)
        self.summary.setObjectName("FleetPlan")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.go = self.buttons.addButton("Deploy", QDialogButtonBox.ButtonRole.AcceptRole)
        self.go.setMinimumHeight(BUTTON_HEIGHT)
        self.buttons.accepted.connect(self._on_accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.summary)
        layout.addWidget(self.buttons)
        for edit in (self.package, self.waves, self.why):
            edit.textChanged.connect(self._update)
        for spin in (self.canary, self.max_failures):
            spin.valueChanged.connect(self._update)
        self.limit.valueChanged.connect(self._update)
        self.rollback_wave.toggled.connect(self._update)
        self.resize(620, 0)
        self._update()

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Package to deploy", "", "Model packages (*.tar.gz);;All files (*)")
        if path:
            self.package.setText(path)

    def _update(self) -> None:
        self.plan, text = self._plan()
        self.summary.setText(text)
        self.go.setEnabled(self.plan is not None)
        self.go.setText("Deploy to %d device%s" % (len(self.devices), "" if len(self.devices) == 1 else "s"))

    def _plan(self) -> tuple[DeployPlan | None, str]:
        """The plan, or None and what is wrong with it (and how to fix it)."""
        text = self.package.text().strip()
        if not text:
            return None, "Choose the package to deploy."
        package = Path(text).expanduser()
        if package.suffix == ".onnx":
            return None, ("A fleet deploy sends a package, so every robot gets the same bytes: build one first "
                          "(edgectl package build %s --name NAME --version V)." % package.name)
        if not package.is_file():
            return None, "%s is not a file; choose an existing package." % package
        try:
            sizes = parse_waves(self.waves.text())
            waves = plan_waves(self.devices, self.canary.value(), sizes)
        except ValueError as exc:
            return None, "The waves cannot be planned: %s." % str(exc).rstrip(".")
        limit = self.limit.value() * 1e6 or None
        plan = DeployPlan(package, list(self.devices), sizes, self.canary.value(), self.max_failures.value(),
                          self.rollback_wave.isChecked(), self.why.text().strip(),
                          {"devices": list(self.devices), "from": "fleet page"}, limit)
        steps = []
        for number, wave in enumerate(waves, 1):
            label = "canary" if number == 1 and self.canary.value() else "wave %d" % number
            steps.append("%s: %s" % (label, ", ".join(wave)))
        max_failures = self.max_failures.value()
        return plan, ("Deploy %s to %d device%s? It is uploaded to all of them first (each verifies it; nothing "
                      "changes yet), then activated in %d step%s: %s. Each device checks its own health and rolls "
                      "itself back if it fails. The rollout stops once more than %d device%s failed%s."
                      % (package.name, len(self.devices), "" if len(self.devices) == 1 else "s", len(waves),
                         "" if len(waves) == 1 else "s", "; ".join(steps), max_failures,
                         "" if max_failures == 1 else "s",
                         ", and the failed wave goes back to its previous version" if self.rollback_wave.isChecked()
                         else ""))

    def _on_accept(self) -> None:
        if self.plan is not None:
            self.accept()


class RollbackDialog(QDialog):
    """Which model goes back on the chosen devices, said in words before it happens."""

    def __init__(self, devices: list[str], active: dict[str, dict[str, str | None]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Roll back a model on %d device%s" % (len(devices), "" if len(devices) == 1 else "s"))
        self.devices = devices
        self.active = active  # device -> model -> active version
        self.model = QComboBox()
        self.model.addItems(sorted({m for models in active.values() for m in models}))
        self.model.setMinimumHeight(BUTTON_HEIGHT)
        self.to = QLineEdit()
        self.to.setPlaceholderText("empty: each device's previous version")
        self.why = QLineEdit()
        form = QFormLayout()
        form.addRow("Model", self.model)
        form.addRow("To version", self.to)
        form.addRow("Why", self.why)
        self.summary = plain_label("")
        self.summary.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.go = self.buttons.addButton("Roll back", QDialogButtonBox.ButtonRole.AcceptRole)
        self.go.setMinimumHeight(BUTTON_HEIGHT)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.summary)
        layout.addWidget(self.buttons)
        self.model.currentTextChanged.connect(self._update)
        self.to.textChanged.connect(self._update)
        self.resize(560, 0)
        self._update()

    def _update(self) -> None:
        model = self.model.currentText()
        if not model:
            self.summary.setText("None of these devices holds a model; deploy one first.")
            self.go.setEnabled(False)
            return
        now = ", ".join("%s (%s)" % (d, self.active.get(d, {}).get(model) or "none active") for d in self.devices)
        to = self.to.text().strip()
        self.summary.setText("Roll back %s on %s to %s? Each device checks its own health after the switch."
                             % (model, now, to or "each one's previous version"))
        self.go.setText("Roll back on %d device%s" % (len(self.devices), "" if len(self.devices) == 1 else "s"))
        self.go.setEnabled(True)


class FleetPage(QWidget):
    def __init__(self, watcher: FleetWatcher, runner: FleetActions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.watcher = watcher
        self.runner = runner
        self.records: list[RolloutRecord] = []
        self.record_problems: list[str] = []
        self._expected = 0
        self._done = 0
        self._started = 0.0  # monotonic: when the action under way began
        self.deploy_dialog: DeployDialog | None = None
        self.rollback_dialog: RollbackDialog | None = None

        self.title = plain_label("")
        self.title.setObjectName("FleetSummary")
        self.title.setStyleSheet("font-size: 13pt; font-weight: bold;")
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter: name, board, model, health, any word in the grid")
        self.filter.setClearButtonEnabled(True)
        self.filter.setMinimumHeight(BUTTON_HEIGHT)
        self.filter.textChanged.connect(self._on_filter)
        self.tag_row = QHBoxLayout()
        self.tag_row.setSpacing(4)
        self.tag_buttons: dict[str, QPushButton] = {}
        self.shown = plain_label("")
        self.shown.setObjectName("DashboardNotice")

        self.health_button = _button("Run health", "Run every health check on the selected devices now")
        self.deploy_button = _button("Deploy package…", "A staged rollout of a package to the selected devices")
        self.rollback_button = _button("Roll back model…", "Return a model to its previous version on the selection")
        self.select_button = _button("Select all shown", "Select every device the filter shows")
        self.health_button.clicked.connect(self.run_health)
        self.deploy_button.clicked.connect(self.open_deploy)
        self.rollback_button.clicked.connect(self.open_rollback)
        self.select_button.clicked.connect(self.select_all_shown)

        self.proxy = FleetFilter(self)
        self.proxy.setSourceModel(watcher.table)
        self.grid = QTableView()
        self.grid.setObjectName("FleetGrid")
        self.grid.setModel(self.proxy)
        self.grid.setSortingEnabled(True)
        self.grid.sortByColumn(COL["Device"], Qt.SortOrder.AscendingOrder)
        self.grid.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.grid.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.grid.verticalHeader().setVisible(False)
        self.grid.verticalHeader().setDefaultSectionSize(30)
        self.grid.setWordWrap(False)
        self.grid.setAlternatingRowColors(True)
        header = self.grid.horizontalHeader()
        header.setStretchLastSection(True)
        for column, width in (("Device", 105), ("State", 170), ("Board", 120), ("JetPack", 90), ("Runtime", 60),
                              ("Models", 140), ("Health", 80), ("Hottest", 78), ("Alerts", 48),
                              ("Last benchmark", 130), ("Tags", 110)):
            header.resizeSection(COL[column], width)
        # the devices that need a look, each with why: the Notes column may be off screen
        self.attention = plain_label("")
        self.attention.setObjectName("FleetAttention")
        self.attention.setWordWrap(True)
        self.attention.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        selection = self.grid.selectionModel()
        selection.selectionChanged.connect(self._on_selection)

        # progress of the action under way, and how it ended
        self.stage = plain_label("")
        self.stage.setWordWrap(True)
        self.stage.setObjectName("FleetStage")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.stop_button = _button("Stop", "Stop after the devices under way finish their step; the rollout can be "
                                   "resumed later")
        self.stop_button.clicked.connect(self.stop)
        self.outcome = plain_label("")
        self.outcome.setWordWrap(True)
        self.outcome.setObjectName("FleetOutcome")
        self.outcome.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.stop_button)
        self.devices_done = QTreeWidget()
        self.devices_done.setHeaderLabels(["Step", "Device", "Outcome", "Time", "What happened"])
        self.devices_done.setRootIsDecorated(False)
        self.devices_done.setVisible(False)

        # rollouts this console ran
        self.record_list = QTreeWidget()
        self.record_list.setObjectName("FleetRollouts")
        self.record_list.setHeaderLabels(list(RECORD_COLUMNS))
        self.record_list.setRootIsDecorated(False)
        self.record_list.currentItemChanged.connect(lambda *_: self._show_record())
        self.detail = QTreeWidget()
        self.detail.setObjectName("FleetRolloutDetail")
        self.detail.setHeaderLabels(list(DETAIL_COLUMNS))
        self.detail.setRootIsDecorated(True)
        self.record_text = plain_label("")
        self.record_text.setWordWrap(True)
        self.record_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.resume_button = _button("Resume", "Take this stopped or cut-off rollout on to the devices it did not "
                                     "finish")
        self.abandon_button = _button("Abandon", "Close this rollout as it stands; each device keeps what it runs")
        self.resume_button.clicked.connect(self.resume_selected)
        self.abandon_button.clicked.connect(self.abandon_selected)

        top = QHBoxLayout()
        top.addWidget(self.title)
        top.addStretch(1)
        for button in (self.select_button, self.health_button, self.deploy_button, self.rollback_button):
            top.addWidget(button)
        filters = QHBoxLayout()
        filters.addWidget(self.filter, 2)
        filters.addLayout(self.tag_row)
        filters.addWidget(self.shown, 1)
        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.addLayout(top)
        upper_layout.addLayout(filters)
        upper_layout.addWidget(self.grid, 1)
        upper_layout.addWidget(self.attention)
        upper_layout.addWidget(self.stage)
        upper_layout.addLayout(progress_row)
        upper_layout.addWidget(self.outcome)
        upper_layout.addWidget(self.devices_done)
        records = QWidget()
        records_layout = QVBoxLayout(records)
        records_layout.setContentsMargins(0, 0, 0, 0)
        records_title = plain_label("Rollouts from this console")
        records_title.setStyleSheet("font-weight: bold;")
        records_layout.addWidget(records_title)
        records_layout.addWidget(self.record_list, 1)
        detail = QWidget()
        detail_layout = QVBoxLayout(detail)
        detail_layout.setContentsMargins(0, 0, 0, 0)
        detail_buttons = QHBoxLayout()
        detail_buttons.addWidget(self.record_text, 1)
        detail_buttons.addWidget(self.resume_button)
        detail_buttons.addWidget(self.abandon_button)
        detail_layout.addLayout(detail_buttons)
        detail_layout.addWidget(self.detail, 1)
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(records)
        lower.addWidget(detail)
        lower.setSizes([500, 700])
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(upper)
        splitter.addWidget(lower)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([480, 320])
        for number, width in enumerate((88, 56, 200, 90, 100)):
            self.record_list.header().resizeSection(number, width)
        for number, width in enumerate((90, 64, 44, 70, 50)):
            self.detail.header().resizeSection(number, width)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        watcher.rowsChanged.connect(self._on_rows)
        watcher.updated.connect(self._update_summary)
        runner.stageChanged.connect(self._on_stage)
        runner.deviceDone.connect(self._on_device_done)
        runner.finished.connect(self._on_finished)
        runner.recordsChanged.connect(self.reload_records)
        self._set_idle_progress()
        self._on_rows()
        self.reload_records()

    # -- grid ------------------------------------------------------------------------------------
    def _on_rows(self) -> None:
        tags = self.watcher.tags()
        for tag in list(self.tag_buttons):
            if tag not in tags:
                button = self.tag_buttons.pop(tag)
                self.tag_row.removeWidget(button)
                button.deleteLater()
        for tag in tags:
            if tag not in self.tag_buttons:
                button = _button(tag, "Show only devices tagged %s (with every other tag chosen)" % tag)
                button.setCheckable(True)
                button.toggled.connect(self._on_tags)
                self.tag_buttons[tag] = button
                self.tag_row.addWidget(button)
        self._on_tags()

    def _on_filter(self, text: str) -> None:
        self.proxy.set_text(text)
        self._update_summary()

    def _on_tags(self) -> None:
        self.proxy.set_tags({t for t, b in self.tag_buttons.items() if b.isChecked()})
        self._update_summary()

    def set_tag(self, tag: str, on: bool) -> None:
        self.tag_buttons[tag].setChecked(on)

    def shown_devices(self) -> list[str]:
        return [str(self.proxy.index(r, 0).data(NAME_ROLE)) for r in range(self.proxy.rowCount())]

    def selected_devices(self) -> list[str]:
        """The selected rows that the filter shows, in the grid's order."""
        rows = sorted(index.row() for index in self.grid.selectionModel().selectedRows())
        return [str(self.proxy.index(r, 0).data(NAME_ROLE)) for r in rows]

    def select(self, names: list[str]) -> None:
        selection = QItemSelection()
        for r in range(self.proxy.rowCount()):
            index = self.proxy.index(r, 0)
            if index.data(NAME_ROLE) in names:
                selection.select(index, self.proxy.index(r, self.proxy.columnCount() - 1))
        self.grid.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def select_all_shown(self) -> None:
        self.select(self.shown_devices())

    def _on_selection(self) -> None:
        self._update_summary()

    def _update_summary(self) -> None:
        rows = self.watcher.table.rows
        connected = sum(r.state == "connected" for r in rows)
        unreachable = sum(r.state == "unreachable" for r in rows)
        unhealthy = sum(r.state == "connected" and r.health == "unhealthy" for r in rows)
        parts = ["%d device%s" % (len(rows), "" if len(rows) == 1 else "s"), "%d connected" % connected]
        if unreachable:
            parts.append("%d unreachable" % unreachable)
        if unhealthy:
            parts.append("%d unhealthy" % unhealthy)
        self.title.setText("Fleet · %s" % " · ".join(parts))
        self.attention.setText(self.attention_text())
        self.attention.setVisible(bool(self.attention.text()))
        selected = len(self.selected_devices())
        self.shown.setText("%d of %d shown · %d selected" % (self.proxy.rowCount(), len(rows), selected))
        busy = self.runner.running
        for button in (self.health_button, self.deploy_button, self.rollback_button):
            button.setEnabled(bool(selected) and not busy)
        self._enable_record_buttons()

    def attention_text(self, most: int = 4) -> str:
        """One line per device that is unreachable or unhealthy, with why (and what to do)."""
        lines = []
        for row in self.watcher.table.rows:
            if row.state == "unreachable":
                lines.append("%s is unreachable: %s" % (row.display, row.why or "no answer yet"))
            elif row.state == "connected" and row.health == "unhealthy":
                lines.append("%s is unhealthy%s. Its Health page shows each check and how to fix it." % (
                    row.display, " (failing: %s)" % ", ".join(row.failing) if row.failing else ""))
        if len(lines) > most:
            lines = [*lines[:most], "and %d more: sort by State to see them first" % (len(lines) - most)]
        if not self.runner.running:  # a rollout left open (stopped, or cut off by closing the console)
            for record in self.records:
                if record.open:
                    lines.append("Rollout %s (%s %s) is %s: choose it under Rollouts to %s." % (
                        record.id, record.kind, what_text(record), record.state().split(";")[0].split(":")[0],
                        "resume or abandon it" if record.kind == "deploy" else "abandon it"))
        return "\n".join(lines)

    # -- actions ---------------------------------------------------------------------------------
    def _begin(self, text: str, expected: int) -> None:
        self._expected, self._done, self._started = max(1, expected), 0, time.monotonic()
        self.progress.setRange(0, self._expected)
        self.progress.setValue(0)
        self.progress.setFormat("%v of %m steps")
        self.progress.setVisible(True)
        self.stop_button.setVisible(True)
        self.stop_button.setEnabled(True)
        self.stage.setText(text)
        self.outcome.setText("")
        self.devices_done.clear()
        self.devices_done.setVisible(True)
        self._update_summary()

    def _set_idle_progress(self) -> None:
        self.progress.setVisible(False)
        self.stop_button.setVisible(False)

    def run_health(self) -> None:
        devices = self.selected_devices()
        if devices and self.runner.run_health(devices):
            self._begin("Running the health checks on %s" % ", ".join(devices), len(devices))

    def open_deploy(self) -> DeployDialog | None:
        devices = self.selected_devices()
        if not devices or self.runner.running:
            return None
        dialog = DeployDialog(devices, self)
        dialog.accepted.connect(lambda: self.start_deploy(dialog.plan))
        self.deploy_dialog = dialog
        dialog.open()
        return dialog

    def start_deploy(self, plan: DeployPlan | None) -> None:
        if plan is not None and self.runner.deploy(plan):
            self._begin("Deploying %s to %s" % (plan.package.name, ", ".join(plan.devices)), 2 * len(plan.devices))

    def open_rollback(self) -> RollbackDialog | None:
        devices = self.selected_devices()
        if not devices or self.runner.running:
            return None
        active = {}
        for name in devices:
            row = self.watcher.table.get(name)
            active[name] = dict(row.models) if row is not None else {}
        dialog = RollbackDialog(devices, active, self)
        dialog.accepted.connect(lambda: self.start_rollback(
            dialog.devices, dialog.model.currentText(), dialog.to.text().strip() or None, dialog.why.text().strip()))
        self.rollback_dialog = dialog
        dialog.open()
        return dialog

    def start_rollback(self, devices: list[str], model: str, to: str | None, why: str) -> None:
        if model and self.runner.rollback(model, devices, to, why, {"devices": devices, "from": "fleet page"}):
            self._begin("Rolling %s back on %s" % (model, ", ".join(devices)), len(devices))

    def stop(self) -> None:
        self.runner.stop()
        self.stop_button.setEnabled(False)
        self.stage.setText("Stopping: the devices under way finish their step (each device's store sees it "
                           "through); the others are not touched.")

    def _on_stage(self, text: str) -> None:
        if self.runner.running:
            self.stage.setText(text[:1].upper() + text[1:])
        self.reload_records()

    def _on_device_done(self, phase: str, outcome: DeviceOutcome) -> None:
        self._done += 1
        if self._done > self._expected:
            self._expected = self._done
            self.progress.setMaximum(self._expected)
        self.progress.setValue(self._done)
        self.progress.setFormat(progress_text(self._done, self._expected, time.monotonic() - self._started))
        item = QTreeWidgetItem([phase, outcome.device, outcome.status, "%.1f s" % outcome.seconds, brief(outcome)])
        if outcome.status in OUTCOME_COLORS:
            item.setForeground(2, _color(OUTCOME_COLORS[outcome.status]))
        item.setToolTip(4, brief(outcome))
        self.devices_done.addTopLevelItem(item)
        self.watcher.note(outcome.device, "%s: %s%s" % (
            phase, outcome.status, " — %s" % brief(outcome) if brief(outcome) else ""))

    def _on_finished(self, result: ActionResult) -> None:
        self._set_idle_progress()
        self.stage.setText("")
        self.outcome.setText(self.result_text(result))
        touched = ({o.device for o in result.outcomes} if result.outcomes else
                   set(result.record.devices) if result.record is not None else set())
        self.watcher.refresh(sorted(touched))
        self.reload_records()
        if result.record is not None:
            self.show_record(result.record.id)
        self._update_summary()

    @staticmethod
    def result_text(result: ActionResult) -> str:
        """How an action ended, and what to do next."""
        return gui_words(FleetPage._result_text(result))

    @staticmethod
    def _result_text(result: ActionResult) -> str:
        if result.error and result.record is None and not result.outcomes:
            if result.stopped:
                return ("Stopped before the end: the devices under way finished their step, the others were not "
                        "touched. %s" % ("" if result.kind == "health" else "Resume or abandon it from the list."))
            return "%s." % result.error.rstrip(".")
        if result.kind == "health":
            failed = [o for o in result.outcomes if not o.ok]
            text = "Health run: %d of %d device%s passed." % (
                len(result.outcomes) - len(failed), len(result.outcomes), "" if len(result.outcomes) == 1 else "s")
            for o in failed:
                text += " %s: %s." % (o.device, o.why.rstrip("."))
            if failed:
                text += " Open a device's Health page to see each check and how to fix it."
            return text
        record = result.record
        assert record is not None
        verb = {"deploy": "Rollout", "resume": "Rollout", "rollback": "Rollback"}.get(result.kind, "Rollout")
        failed = [p.outcome for p in record.final().values() if p.outcome.status in (FAILED, UNREACHABLE)]
        if result.stopped or record.stopped:
            text = ("%s %s stopped: %s. %s. The devices it did not reach keep their version. Fix what the failed "
                    "devices say, then Resume takes it on to the devices left (or Abandon closes it as it stands)."
                    % (verb, record.id, (record.stopped or "stopped by the operator").rstrip("."), counts_text(record)))
        else:
            text = "%s %s done: %s." % (verb, record.id, counts_text(record))
        for o in failed:
            text += " %s %s: %s." % (o.device, o.status, o.why.rstrip("."))
        return text

    # -- rollout records ---------------------------------------------------------------------------
    def reload_records(self) -> None:
        current = self.current_record()
        self.records, self.record_problems = self.watcher_log_records()
        self.record_list.blockSignals(True)
        self.record_list.clear()
        for record in reversed(self.records):  # newest first
            item = QTreeWidgetItem([when(record.started, short=True), record.kind, what_text(record), record.who,
                                    counts_text(record), gui_words(record.state())])
            item.setData(0, Qt.ItemDataRole.UserRole, record.id)
            item.setToolTip(0, "%s (%s)" % (record.id, when(record.started)))
            item.setToolTip(2, what_text(record))
            item.setToolTip(5, gui_words(record.state()))
            if record.open:
                item.setForeground(5, _color(HEALTH_COLORS["degraded"]))
            self.record_list.addTopLevelItem(item)
        self.attention.setText(self.attention_text())
        self.attention.setVisible(bool(self.attention.text()))
        for problem in self.record_problems:
            self.record_list.addTopLevelItem(QTreeWidgetItem(["-", "unreadable", problem, "", "", ""]))
        self.record_list.blockSignals(False)
        if current is not None:
            self.show_record(current.id)
        elif self.records:  # the newest, in full
            self.show_record(self.records[-1].id)
        else:
            self._show_record()

    def watcher_log_records(self) -> tuple[list[RolloutRecord], list[str]]:
        return self.runner.log.records()

    def current_record(self) -> RolloutRecord | None:
        item = self.record_list.currentItem()
        record_id = item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None
        return next((r for r in self.records if r.id == record_id), None)

    def show_record(self, record_id: str) -> None:
        for number in range(self.record_list.topLevelItemCount()):
            item = self.record_list.topLevelItem(number)
            if item is not None and item.data(0, Qt.ItemDataRole.UserRole) == record_id:
                self.record_list.setCurrentItem(item)
                break
        self._show_record()

    def _show_record(self) -> None:
        record = self.current_record()
        self.detail.clear()
        if record is None:
            self.record_text.setText("No rollout chosen." if self.records else
                                     "No rollouts yet: select devices and Deploy package… starts one.")
            self._enable_record_buttons()
            return
        plan = record.plan
        planned = (" · canary %d, waves %s, max failures %d" % (plan["canary"], ",".join(plan["waves"]),
                                                                plan["max_failures"]) if plan.get("waves") else "")
        self.record_text.setText(gui_words("%s %s by %s, %s → %s: %s%s. %s" % (
            record.kind, what_text(record), record.who, when(record.started), when(record.finished),
            record.state(), planned, "Resume takes it on to the devices it did not finish; Abandon closes it."
            if record.open and record.kind == "deploy" else "Abandon closes it as it stands." if record.open else "")))
        for device, last in record.final().items():
            item = self._detail_item(device, last.phase, last.wave, last.outcome)
            for phase in record.phases:
                if phase.outcome.device == device:
                    item.addChild(self._detail_item("", phase.phase, phase.wave, phase.outcome))
            self.detail.addTopLevelItem(item)
        self._enable_record_buttons()

    @staticmethod
    def _detail_item(device: str, phase: str, wave: int | None, outcome: DeviceOutcome) -> QTreeWidgetItem:
        item = QTreeWidgetItem([device, phase, str(wave) if wave else "-", outcome.status,
                                "%.1f s" % outcome.seconds if outcome.seconds else "-", brief(outcome)])
        item.setToolTip(5, brief(outcome))
        if outcome.status in OUTCOME_COLORS:
            item.setForeground(3, _color(OUTCOME_COLORS[outcome.status]))
        return item

    def _enable_record_buttons(self) -> None:
        record = self.current_record()
        idle = not self.runner.running
        self.resume_button.setEnabled(idle and record is not None and record.open and record.kind == "deploy")
        self.abandon_button.setEnabled(idle and record is not None and record.open)

    def confirm(self, text: str) -> bool:
        return QMessageBox.question(self, "Fleet", text) == QMessageBox.StandardButton.Yes

    def resume_selected(self) -> None:
        record = self.current_record()
        if record is None or not record.open:
            return
        left = record.unfinished()
        if not self.confirm("Resume rollout %s on %s? Devices that hold the package already go on from there."
                            % (record.id, ", ".join(left))):
            return
        why_not = self.runner.resume(record)
        if why_not:
            self.outcome.setText("Rollout %s cannot be resumed: %s. Abandon closes it as it stands; a new deploy "
                                 "starts over." % (record.id, why_not.rstrip(".")))
            return
        self._begin("Resuming %s on %s" % (record.id, ", ".join(left)), 2 * len(left))

    def abandon_selected(self) -> None:
        record = self.current_record()
        if record is None or not record.open:
            return
        if not self.confirm("Abandon rollout %s? Each device keeps what it runs now; the rollout cannot be resumed "
                            "after this." % record.id):
            return
        why_not = self.runner.abandon(record)
        self.outcome.setText("Rollout %s could not be abandoned: %s." % (record.id, why_not.rstrip("."))
                             if why_not else "Rollout %s %s; each device keeps what it runs now."
                             % (record.id, record.closed))
        self.show_record(record.id)

    # -- page ------------------------------------------------------------------------------------
    def ready(self) -> bool:
        """Whether every device has been read once (for --screenshot)."""
        return self.watcher.settled()

    def showEvent(self, event: QShowEvent) -> None:
        self.reload_records()
        super().showEvent(event)

    def shutdown(self, wait_s: float = 60.0) -> None:
        """The console closes: an action under way stops after the devices under way finish their step (its
        record says so and it can be resumed next time), then the watcher stops. Past ``wait_s`` the console
        closes anyway: the record then says the rollout was cut off, and it can be resumed all the same."""
        if self.runner.running:
            self.runner.stop()
            self.runner.wait(wait_s)
        self.watcher.close()

