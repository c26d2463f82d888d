"""Details a person notices: every control on the device pages is a 32 px touch target, the event
list's kind cell reads at 4.5:1 or more in both themes, and Help > Keyboard shortcuts lists keys
the window really answers to; at 150 % scaling the window opens inside the screen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtGui import QKeySequence, QPalette, QShortcut
from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QApplication, QComboBox, QLineEdit, QWidget
from pytestqt.qtbot import QtBot

from console.core.app import ConsoleCore
from console.core.devices.session import Outage
from console.core.telemetry.activations import Activation
from console.ui.dashboard.event_panel import EventPanel
from console.ui.theme import Theme, apply_theme, blend, contrast_ratio
from device_runtime.protocol import AlertEvent
from tests.support.daemons import stop_daemon
from tests.support.windows import quiet_window

pytestmark = pytest.mark.gui


def test_every_control_on_the_device_pages_is_a_touch_target(qtbot: QtBot, core: ConsoleCore, theme: Theme) -> None:
    window = quiet_window(qtbot, core, theme)
    window.resize(1400, 900)
    small = []
    for key in ("dashboard", "models", "optimize", "jobs", "benchmarks", "health"):
        window.show_page(key)
        QApplication.processEvents()
        page = window.page(key)
        assert page is not None
        for kind in (QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit):
            for widget in page.findChildren(kind):
                assert isinstance(widget, QWidget)
                inner = isinstance(widget.parent(), (QComboBox, QAbstractSpinBox))  # the box is the target
                if widget.isVisibleTo(page) and not inner and not widget.objectName().startswith("qt_") and (
                        widget.height() < 32):
                    small.append("%s: %s %r %d px %s" % (key, type(widget).__name__, getattr(widget, "text", str)(),
                                                      widget.height(), type(widget.parent()).__name__))
    assert small == []


@pytest.mark.parametrize("choice", ["light", "dark"])
def test_the_event_kind_cells_read_in_both_themes(qtbot: QtBot, qapp: QApplication, choice: str) -> None:
    apply_theme(qapp, choice)
    panel = EventPanel()
    qtbot.addWidget(panel)
    now = time.time()
    panel.show_activations([Activation(now - 30, "det", "deploy", "committed", "1.0.0", "1.1.0", "ann")])
    panel.show_alert(AlertEvent("a1", "temperature", "critical", "gpu", "gpu at 97 °C", now - 20))
    panel.show_alert(AlertEvent("a2", "temperature", "warning", "cpu", "cpu at 86 °C", now - 10))
    panel.show_outage(Outage(now - 5, "the link dropped"))
    base = panel.table.palette().color(QPalette.ColorRole.Base)
    for row in range(panel.table.rowCount()):
        item = panel.table.item(row, 0)
        assert item is not None
        background = blend(item.background().color(), base)
        assert contrast_ratio(item.foreground().color(), background) >= 4.5, (choice, item.text())
    apply_theme(qapp, "light")


def test_help_lists_the_keyboard_shortcuts_the_window_answers_to(qtbot: QtBot, core: ConsoleCore,
                                                                  theme: Theme) -> None:
    window = quiet_window(qtbot, core, theme)
    window.shortcuts_action.trigger()
    dialog = window.shortcuts_dialog
    assert dialog is not None and dialog.isVisible() and dialog.windowTitle() == "Keyboard shortcuts"
    listed = dict(dialog.rows())
    bound = {s.key().toString() for s in window.findChildren(QShortcut)}
    bound |= {window.field_action.shortcut().toString(), window.shortcuts_action.shortcut().toString()}
    dashboard = window.dashboard()
    assert dashboard is not None
    bound.add(dashboard.live_action.shortcut().toString())
    for keys in ("Ctrl+K", "F5", "Ctrl+Shift+F", "Space", "F1"):
        assert keys in listed and QKeySequence(keys).toString() in bound, keys
    assert {"Ctrl+%d" % n for n in range(1, 7)} <= bound and "Ctrl+1 … Ctrl+6" in listed


OPEN_WINDOW = """
import sys
from PySide6.QtWidgets import QApplication
from console.core.app import ConsoleCore
from console.core.env import ConsoleEnv
from console.ui.main_window import MainWindow
from console.ui.theme import apply_theme
app = QApplication([])
core = ConsoleCore(ConsoleEnv.from_os())
window = MainWindow(core, apply_theme(app, "light"), "local", first_launch=False)
window.resize(1400, 900)  # what edge-console asks for
window.show()
app.processEvents()
ratio = window.devicePixelRatio()
print(*(round(v * ratio) for v in (window.width(), window.height(), window.x(), window.y())))
window.shutdown()
core.close()
"""


def test_at_150_percent_the_window_opens_inside_a_1600_by_1000_screen(tmp_path: Path,
                                                                      short_runtime_dir: Path) -> None:
    screen = tmp_path / "screen.json"
    screen.write_text(json.dumps({"synchronousWindowSystem": True, "windowFrameMargins": False, "screens": [
        {"name": "laptop", "x": 0, "y": 0, "width": 1600, "height": 1000, "logicalDpi": 96, "logicalBaseDpi": 96,
         "dpr": 1}]}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_RUNTIME_DIR=str(short_runtime_dir), QT_SCALE_FACTOR="1.5",
               QT_QPA_PLATFORM="offscreen:configfile=%s" % screen)
    try:
        done = subprocess.run([sys.executable, "-c", OPEN_WINDOW], env=env, capture_output=True, text=True,
                              timeout=120, check=False)
    finally:
        stop_daemon(short_runtime_dir / "edge-runtime" / "edge-runtime.sock")
    assert done.returncode == 0, done.stderr
    width, height, x, y = (int(v) for v in done.stdout.split())  # device pixels (1400 x 900 at 1.5: 2100 x 1350)
    assert x >= 0 and y >= 0 and x + width <= 1600 and y + height <= 1000
    assert width >= 1400 and height >= 800  # fitted, not shrunk to nothing
