"""Opening a connected main window on the built-in device without its first-launch demo, for tests
that count the store's models or activations exactly."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from console.core.app import ConsoleCore
from console.core.devices.session import State
from console.ui.main_window import MainWindow
from console.ui.theme import Theme


def quiet_window(qtbot: QtBot, core: ConsoleCore, theme: Theme, page: str = "dashboard",
                 rate_hz: float = 10.0) -> MainWindow:
    """Connected, with the store left as the test made it (no demo model, no probe)."""
    window = MainWindow(core, theme, "local", rate_hz=rate_hz, page=page, first_launch=False)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    model = window.model()
    assert model is not None
    qtbot.waitUntil(lambda: model.state is State.CONNECTED, timeout=20_000)
    return window
