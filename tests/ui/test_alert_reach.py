"""An alert reaches the sidebar's dot and word and the status bar as it reaches the event list, not
at the next health run: the local runtime reads a real Orin Nano sysfs tree (zones at 44-48 °C)
and a critical limit under that starts a real critical temperature alert."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from console.core.app import ConsoleCore
from console.core.devices.session import State
from console.core.env import ConsoleEnv
from console.core.telemetry.thresholds import set_thresholds
from console.ui.health.qt_health import HEALTH_COLORS
from console.ui.main_window import MainWindow
from console.ui.theme import Theme
from device_runtime.protocol import AlertThresholds
from device_runtime.server.bridge import start_daemon

pytestmark = pytest.mark.gui

BOARDS = Path(__file__).resolve().parents[1] / "fixtures" / "boards"


@pytest.fixture
def board_window(qtbot: QtBot, ui_env: ConsoleEnv, theme: Theme) -> Iterator[MainWindow]:
    start_daemon(str(ui_env.local_socket), str(ui_env.local_root),
                 ["--rate", "10", "--sys-root", str(BOARDS / "orin-nano" / "sys")])
    core = ConsoleCore(ui_env)
    window = MainWindow(core, theme, "local", rate_hz=10.0)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    yield window
    window.close()
    core.close()


def test_a_critical_alert_reaches_the_sidebar_and_status_bar_with_its_event_row(
        qtbot: QtBot, board_window: MainWindow) -> None:
    model = board_window.model()
    dashboard = board_window.dashboard()
    assert model is not None and dashboard is not None
    qtbot.waitUntil(lambda: model.state is State.CONNECTED and board_window.temperature_label.text() != "",
                    timeout=20_000)
    assert board_window.temperature_label.text().endswith("°C") and board_window.temperature_label.styleSheet() == ""
    assert "alert" not in board_window.sidebar.state_text("local")
    set_thresholds(model.session, AlertThresholds(temperature_warning_c=30.0, temperature_critical_c=40.0,
                                                  hold_s=0.0))

    def critical_row() -> bool:
        return any(r[0] == "Critical" and r[1] == "Temperature" for r in dashboard.events.rows())

    qtbot.waitUntil(critical_row, timeout=20_000)
    # The same news, in the same turn of the event loop: no waiting for a health run.
    words = board_window.sidebar.state_text("local").split("\n")[1]
    assert words.startswith("connected · unhealthy · ") and "critical alert" in words and "temperature" in words
    temperature = board_window.temperature_label
    assert temperature.text().endswith("°C critical")
    assert HEALTH_COLORS["unhealthy"] in temperature.styleSheet() and "bold" in temperature.styleSheet()
    assert "critical)" in board_window.status_label.text()
