"""Details a person notices: every control on the device pages is a 32 px touch target, the event
list's kind cell reads at 4.5:1 or more in both themes, and Help > Keyboard shortcuts lists keys
the window really answers to."""

from __future__ import annotations

import time

import pytest
from PySide6.QtGui import QKeySequence, QPalette, QShortcut
from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QApplication, QComboBox, QLineEdit, QWidget
from pytestqt.qtbot import QtBot

from console.core.activations import Activation
from console.core.app import ConsoleCore
from console.core.session import Outage
from console.ui.event_panel import EventPanel
from console.ui.theme import Theme, apply_theme, blend, contrast_ratio
from device_runtime.protocol import AlertEvent
from tests.ui.windows import quiet_window

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
                if widget.isVisibleTo(page) and not widget.objectName().startswith("qt_") and widget.height() < 32:
                    small.append("%s: %s %r %d px" % (key, type(widget).__name__, getattr(widget, "text", str)(),
                                                      widget.height()))
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
