"""Field mode: one device, for field staff. Its health in one coloured word, each model with its
active version, and one big Rollback button per model. Nothing else to get lost in.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QPushButton, QScrollArea, QVBoxLayout, QWidget

from console.core.devices.session import State
from console.core.models.rollback_record import last_rollback, newer, rolled_back_versions
from console.core.models.tracker import (
    ModelEntry,
    RollbackPlan,
    health_problems,
    health_words,
    rollback_blocker,
    rollback_plan,
    timeline,
    when_text,
)
from console.ui.charts.chart import plain_label
from console.ui.devices.connection_banner import ConnectionBanner
from console.ui.devices.qt_session import QtSession
from console.ui.models.qt_models import QtModels
from console.ui.models.rollback_dialog import RollbackDialog, big_button, coloured, sized
from device_runtime.protocol import StoreAction


def field_refusal(entry: ModelEntry, plan: RollbackPlan) -> str | None:
    """Why field mode offers no one-tap switch to ``plan.target``; None when it may."""
    left = rolled_back_versions(plan.name, entry.history).get(plan.target)
    if left is not None:
        return ("%s was rolled back; re-activating it needs the full console (Models page) and a confirmation"
                % plan.target)
    if newer(plan.target, plan.active):
        return ("%s is newer than the active %s: field mode only rolls back. Switch forward from the full console "
                "(Models page)" % (plan.target, plan.active))
    return None


class ModelCard(QFrame):
    """One model: its name, the active version, since when, and the Rollback button."""

    def __init__(self, entry: ModelEntry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ChartCard")
        self.name = entry.model.name
        versions = entry.versions
        self.title = sized(plain_label(self.name), 18, True)
        since = next((e.t for e in timeline(entry.history) if e.result == "committed"
                      and e.to_version == versions.active), None)
        self.active = sized(plain_label(
            "Active version %s" % versions.active if versions.active else "No active version"), 15)
        self.since = plain_label("since %s" % when_text(since) if since else "")
        last = last_rollback(self.name, entry.history)
        self.last_rollback = sized(plain_label("Last rollback: %s." % last.sentence() if last else ""), 12)
        self.last_rollback.setVisible(last is not None)
        self.plan = rollback_plan(versions)
        blocker = rollback_blocker(versions, self.plan.target) if self.plan is not None else None
        kept_out = field_refusal(entry, self.plan) if self.plan is not None else None
        if kept_out is not None:
            self.plan = None  # never one tap back onto a version that was rolled back, nor forward
        self.rollback_button = big_button(self.plan.button_text() if self.plan else "No earlier version to roll "
                                          "back to", 72, 16, primary=True)
        self.refusal = sized(plain_label(kept_out or ""), 12)
        self.refusal.setVisible(kept_out is not None)
        self.can_roll_back = self.plan is not None and blocker is None
        self.rollback_button.setEnabled(self.can_roll_back)
        self.rollback_button.setToolTip(blocker or kept_out or "")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 16)
        for widget in (self.title, self.active, self.since, self.last_rollback, self.rollback_button, self.refusal):
            layout.addWidget(widget)


class FieldModeView(QWidget):
    exitRequested = Signal()

    def __init__(self, models: QtModels, session_model: QtSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.models = models
        self.session_model = session_model
        self.cards: dict[str, ModelCard] = {}
        self.rollback_dialog: RollbackDialog | None = None
        self._health_asked = False
        self._shown = False

        self.device = sized(plain_label(session_model.display_name), 20, True)
        self.connection = sized(plain_label(), 13)
        self.exit_button = QPushButton("Full console")
        self.exit_button.setMinimumHeight(40)
        self.exit_button.setToolTip("Leave field mode (View > Field mode)")
        self.banner = ConnectionBanner(session_model)
        self.health = sized(plain_label(), 22, True)
        self.problems = sized(plain_label(), 12)
        self.result = sized(plain_label(), 13, True)
        self.result.setVisible(False)
        self.empty = sized(plain_label("No models on %s yet." % session_model.display_name), 14)
        self.card_box = QVBoxLayout()
        self.card_box.setSpacing(12)
        top = QHBoxLayout()
        top.addWidget(self.device)
        top.addWidget(self.connection, 1)
        top.addWidget(self.exit_button)
        inner = QWidget()
        column = QVBoxLayout(inner)
        column.setContentsMargins(24, 16, 24, 24)
        column.setSpacing(12)
        column.addLayout(top)
        column.addWidget(self.banner)
        column.addWidget(self.health)
        column.addWidget(self.problems)
        column.addWidget(self.result)
        column.addWidget(self.empty)
        column.addLayout(self.card_box)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

        self.exit_button.clicked.connect(self.exitRequested.emit)
        models.changed.connect(self._on_changed)
        models.finished.connect(self._on_finished)
        models.actionChanged.connect(self._on_action)
        models.failed.connect(self._on_failed)
        session_model.stateChanged.connect(self._on_state)
        self._on_state(session_model.state.value, session_model.message)

    def ready(self) -> bool:
        """Models and health are both shown (for --screenshot)."""
        return self._shown

    def rollback(self, name: str) -> RollbackDialog | None:
        card = self.cards.get(name)
        if card is None or card.plan is None or self.models.busy():
            return None
        dialog = RollbackDialog(self.models, card.plan, large=True, parent=self)
        dialog.finished.connect(lambda _code: setattr(self, "rollback_dialog", None))
        self.rollback_dialog = dialog
        dialog.open()
        return dialog

    # -- model -> view -------------------------------------------------------------------------
    def _on_state(self, state: str, message: str) -> None:
        connected = state == State.CONNECTED.value
        down = self.session_model.outage_text
        self.connection.setText("connected" if connected else down or "%s%s" % (
            state, ": %s" % message if message else ""))
        coloured(self.connection, "ok" if connected else "bad")
        if connected and not self._health_asked:
            self._health_asked = True
            self.models.load_health()
        if not connected:
            self._health_asked = False  # ask again once it is back
        self._on_changed()

    def _on_changed(self) -> None:
        tracker = self.models.tracker
        connected = self.session_model.state is State.CONNECTED
        word, level = health_words(tracker.health) if connected else ("unknown while disconnected", "muted")
        self.health.setText("Health: %s" % word)
        coloured(self.health, level, bold=True)
        self.problems.setText("\n".join(health_problems(tracker.health)) if connected else "")
        self.problems.setVisible(bool(self.problems.text()))
        snapshot = tracker.snapshot
        self.empty.setVisible(snapshot.loaded and not snapshot.models)
        for card in self.cards.values():
            card.setParent(None)
            card.deleteLater()
        self.cards = {}
        for name in sorted(snapshot.models):
            card = ModelCard(snapshot.models[name])
            card.rollback_button.clicked.connect(lambda _checked=False, n=name: self.rollback(n))
            card.rollback_button.setEnabled(card.can_roll_back and connected and not self.models.busy())
            self.cards[name] = card
            self.card_box.addWidget(card)
        self._shown = snapshot.loaded and tracker.health is not None

    def _on_action(self, action: StoreAction) -> None:
        busy = self.models.busy()
        connected = self.session_model.state is State.CONNECTED
        for card in self.cards.values():
            card.rollback_button.setEnabled(card.can_roll_back and connected and not busy)
        if busy:
            running = self.models.tracker.running()
            assert running is not None
            self.result.setText("Working: %s" % running.stage)
            self.result.setVisible(True)
            coloured(self.result, "warn", bold=True)

    def _on_finished(self, _tag: str, action: StoreAction) -> None:
        self.result.setText(action.message)
        self.result.setVisible(True)
        coloured(self.result, "ok" if action.state == "succeeded" else "bad", bold=True)
        self.models.load_health()

    def _on_failed(self, text: str) -> None:
        self.result.setText(text)
        self.result.setVisible(True)
        coloured(self.result, "bad", bold=True)

