"""The line above every page of a device that is out of reach: since when, the reconnection attempt,
that device actions wait for it, and a Reconnect button (F5) that tries at once."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QPushButton, QWidget

from console.core.devices.session import State
from console.ui.charts.chart import plain_label
from console.ui.devices.qt_session import QtSession

BANNER_STYLE = ("QFrame#ConnectionBanner { background: #fdf0d5; border: 1px solid #d99a1c; border-radius: 4px; }"
                " QFrame#ConnectionBanner QLabel { color: #5a3d00; font-weight: 600; }")
ACTIONS_WAIT = "Device actions are off until it is back."


class ConnectionBanner(QFrame):
    """Shown while its device is not connected; hidden once it is. ``set_model`` points it at
    another device (the main window has one banner for the device shown)."""

    def __init__(self, model: QtSession | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model: QtSession | None = None
        self.setObjectName("ConnectionBanner")
        self.setStyleSheet(BANNER_STYLE)
        self.text = plain_label("")
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reconnect_button = QPushButton("Reconnect")
        self.reconnect_button.setMinimumHeight(32)
        self.reconnect_button.setToolTip("Try to reach the device now (F5)")
        self.reconnect_button.clicked.connect(self._on_reconnect)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 4, 6, 4)
        row.addWidget(self.text, 1)
        row.addWidget(self.reconnect_button)
        self.setVisible(False)
        self.set_model(model)

    def set_model(self, model: QtSession | None) -> None:
        if self.model is not None:
            self.model.stateChanged.disconnect(self._on_state)
        self.model = model
        if model is None:
            self.setVisible(False)
            return
        model.stateChanged.connect(self._on_state)
        self._on_state(model.state.value, model.message)

    def _on_state(self, state: str, _message: str) -> None:
        model = self.model
        if model is None:
            return
        words = model.outage_text
        self.setVisible(bool(words) and state != State.CONNECTED.value)
        if words:
            self.text.setText("%s %s. %s" % (model.display_name, words, ACTIONS_WAIT))
        self.reconnect_button.setEnabled(state != State.CONNECTING.value)

    def _on_reconnect(self) -> None:
        if self.model is not None:
            self.reconnect_button.setEnabled(False)
            self.model.reconnect()
