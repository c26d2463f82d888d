"""Recorded boards drawn on the real dashboard, shared by the dashboard layout tests."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from console.core.app import ConsoleCore
from console.core.telemetry.metrics import TelemetryStore
from console.ui.dashboard.page import Dashboard
from console.ui.devices.qt_session import QtSession
from console.ui.theme import Theme
from device_runtime.protocol import MetricSpec

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


T0 = 1_700_000_000.0


def _board(qtbot: QtBot, core: ConsoleCore, theme: Theme,
           metrics: list[MetricSpec]) -> tuple[Dashboard, TelemetryStore]:
    session = core.session("local")  # never connected: the test fills its store with real readings
    store = TelemetryStore(metrics)
    session.store = store
    board = Dashboard(QtSession(session), theme, window_s=60.0)
    qtbot.addWidget(board)
    board.resize(1400, 4000)  # every card on screen
    board.show()
    board._timer.stop()
    return board, store


def _draw(board: Dashboard) -> None:
    board._dirty = True
    board._on_frame()
    QApplication.processEvents()
