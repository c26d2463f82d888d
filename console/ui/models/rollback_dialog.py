"""The Rollback dialog: asks once in words that name the model, both versions and the device,
then shows the device's stage text as it goes and the result in words.

An explicit downgrade (a chosen older version that is not the previous one) cannot be confirmed
until the operator ticks a sentence saying so; the device records the reason. While the device
works there is nothing safe to cancel, so Esc and Close wait for the result.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from console.core.models.rollback_record import rolled_back_versions
from console.core.models.tracker import Refusal, RollbackPlan, explain_action, succeeded
from console.ui.charts.chart import plain_label
from console.ui.models.qt_models import QtModels
from device_runtime.package_format.errors import Code
from device_runtime.protocol import StoreAction

LEVEL_COLORS = {"ok": "#2e9e4f", "info": "#2f6fd0", "warn": "#c98a0b", "bad": "#d64545", "muted": "#8a8f98"}


def big_button(text: str, height: int = 56, point_size: int = 13, primary: bool = False) -> QPushButton:
    """A button field staff can hit with a gloved finger; ``primary`` fills it with the accent colour.
    Sizes go through a style sheet: the application's sheet would override a plain font."""
    button = QPushButton(text)
    button.setMinimumHeight(height)
    css = "QPushButton { font-size: %dpt; font-weight: 600; padding: 4px 16px; }" % point_size
    if primary:
        css += (" QPushButton:enabled { background: %s; color: #ffffff; border: 1px solid %s; border-radius: 6px; }"
                " QPushButton:enabled:hover { background: #285fb3; }" % (LEVEL_COLORS["info"], LEVEL_COLORS["info"]))
    button.setStyleSheet(css)
    return button


def sized(label: QLabel, points: int, bold: bool = False) -> QLabel:
    """A larger label (kept when :func:`coloured` changes its colour)."""
    label.setProperty("base_css", "font-size: %dpt;%s" % (points, " font-weight: 600;" if bold else ""))
    label.setStyleSheet(str(label.property("base_css")))
    label.setWordWrap(True)
    return label


def coloured(label: QLabel, level: str, bold: bool = False) -> None:
    base = label.property("base_css") or ""
    label.setStyleSheet("%s color: %s;%s" % (base, LEVEL_COLORS.get(level, LEVEL_COLORS["muted"]),
                                             " font-weight: 600;" if bold else ""))


class RefusalView(QWidget):
    """What happened and what to do; the device's own text behind a Details toggle."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.what = plain_label()
        self.what.setWordWrap(True)
        coloured(self.what, "bad", bold=True)
        self.todo = plain_label()
        self.todo.setWordWrap(True)
        self.details_button = QPushButton("Details")
        self.details_button.setCheckable(True)
        self.details_button.setMinimumHeight(32)
        self.details = plain_label()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setFont(QFont("monospace"))
        self.details.setVisible(False)
        self.details_button.toggled.connect(self._on_details)
        row = QHBoxLayout()
        row.addWidget(self.details_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.what)
        layout.addWidget(self.todo)
        layout.addLayout(row)
        layout.addWidget(self.details)

    def show_refusal(self, refusal: Refusal) -> None:
        self.what.setText(refusal.what)
        self.todo.setText(refusal.todo)
        self.details.setText(refusal.details or "The device gave no further detail.")
        self.details_button.setChecked(False)
        self.setVisible(True)
        self._grow()

    def _on_details(self, shown: bool) -> None:
        self.details.setVisible(shown)
        self._grow()

    def _grow(self) -> None:
        """Wrapped text needs height: let the dialog grow to fit what it now shows."""
        window = self.window()
        if isinstance(window, QDialog):
            QTimer.singleShot(0, window.adjustSize)


class RollbackDialog(QDialog):
    completed = Signal(object)  # the final StoreAction, or None when it could not start

    def __init__(self, models: QtModels, plan: RollbackPlan, large: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.models = models
        self.plan = plan
        self.tag: str | None = None
        self.final: StoreAction | None = None
        entry = models.tracker.snapshot.models.get(plan.name)
        # A version that was rolled back is re-activated only on purpose: the question names that rollback.
        self.rolled_back = rolled_back_versions(plan.name, entry.history if entry else []).get(plan.target)
        self.verb = "Re-activate" if self.rolled_back is not None else plan.verb
        self.setWindowTitle(plan.button_text() if self.rolled_back is None else "Re-activate %s %s" % (
            plan.name, plan.target))
        self.setModal(True)
        size = 15 if large else 12
        question = plan.question(models.display_name) if self.rolled_back is None else (
            "Re-activate %s %s on %s (now %s)? %s." % (plan.name, plan.target, models.display_name, plan.active,
                                                     self.rolled_back.sentence()))
        self.question = sized(plain_label(question), size, bold=True)
        self.explain = plain_label(
            "%s %s is loaded and checked, switched in, then health-checked; if anything fails, %s stays active."
            % (plan.name, plan.target, plan.active))
        self.explain.setWordWrap(True)
        self.needs_intent = plan.downgrade or self.rolled_back is not None
        self.intent = QCheckBox(plan.intent_text() if self.rolled_back is None else (
            "I mean to re-activate %s %s although it was rolled back" % (plan.name, plan.target)))
        self.intent.setVisible(self.needs_intent)
        self.why = QLineEdit()
        self.why.setPlaceholderText("Reason (optional, kept in the device's history)")
        self.why.setMinimumHeight(32)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setVisible(False)
        self.stage = plain_label()
        self.stage.setWordWrap(True)
        self.outcome = plain_label()
        self.outcome.setWordWrap(True)
        self.outcome.setVisible(False)
        self.refusal = RefusalView()
        self.refusal.setVisible(False)
        self.confirm_button = big_button(self.verb, 48 if large else 36, size - 1, primary=True)
        self.cancel_button = big_button("Cancel", 48 if large else 36, size - 1)
        self.close_button = big_button("Close", 48 if large else 36, size - 1)
        self.close_button.setVisible(False)
        self.override_button = big_button("%s anyway (recorded as an override)" % self.verb, 48 if large else 36,
                                          size - 1)
        self.override_button.setVisible(False)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.cancel_button, self.confirm_button, self.override_button, self.close_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        for widget in (self.question, self.explain, self.intent, self.why, self.progress, self.stage,
                       self.outcome, self.refusal):
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.setMinimumWidth(640 if large else 520)

        self.confirm_button.setEnabled(not self.needs_intent)
        self.intent.toggled.connect(self.confirm_button.setEnabled)
        self.confirm_button.clicked.connect(self._on_confirm)
        self.cancel_button.clicked.connect(self.reject)
        self.close_button.clicked.connect(self.accept)
        self.override_button.clicked.connect(self._on_override)
        models.actionProgress.connect(self._on_progress)
        models.finished.connect(self._on_finished)
        models.refused.connect(self._on_refused)

    @property
    def running(self) -> bool:
        """Confirmed and not finished: the device is working on it."""
        return self.tag is not None and self.close_button.isHidden()

    # -- user intent -------------------------------------------------------------------------
    def _on_confirm(self) -> None:
        if self.needs_intent and not self.intent.isChecked():
            return
        for widget in (self.confirm_button, self.cancel_button, self.intent, self.why, self.explain):
            widget.setVisible(False)
        self.progress.setVisible(True)
        self.stage.setText("asking %s to %s…" % (self.models.display_name, self.verb.lower()))
        self.tag = self.models.rollback(self.plan, self.why.text().strip())

    def _on_override(self) -> None:
        """The robot held its swap lock through the wait: the operator goes past it, on the record."""
        self.final = None
        self.override_button.setVisible(False)
        self.close_button.setVisible(False)
        self.refusal.setVisible(False)
        self.progress.setVisible(True)
        self.stage.setText("asking %s to %s past the robot's lock…" % (self.models.display_name,
                                                                       self.verb.lower()))
        self.tag = self.models.rollback(self.plan, self.why.text().strip(), force=True)

    def reject(self) -> None:
        if self.running:
            return  # the device is switching versions: wait for the result
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.running:
            event.ignore()
            return
        super().closeEvent(event)

    # -- results -----------------------------------------------------------------------------
    def _on_progress(self, tag: str, action: StoreAction) -> None:
        if tag != self.tag:
            return
        self.progress.setValue(round(action.progress * 100))
        if action.stage:
            self.stage.setText(action.stage)

    def _on_finished(self, tag: str, action: StoreAction) -> None:
        if tag != self.tag:
            return
        self.final = action
        self.progress.setValue(100 if succeeded(action) else self.progress.value())
        if succeeded(action):
            self.stage.setText("")
            self.outcome.setText("Done: %s." % action.message.rstrip("."))
            coloured(self.outcome, "ok", bold=True)
            self.outcome.setVisible(True)
        else:
            self.refusal.show_refusal(explain_action(action, self.models.session_model.name))
            self.override_button.setVisible(action.code == Code.INHIBITED)
        self._finish(action)

    def _on_refused(self, tag: str, refusal: Refusal) -> None:
        if tag != self.tag:
            return
        self.refusal.show_refusal(refusal)
        self._finish(None)

    def _finish(self, action: StoreAction | None) -> None:
        self.progress.setVisible(False)
        self.close_button.setVisible(True)
        self.close_button.setFocus()
        self.completed.emit(action)
