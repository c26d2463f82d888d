"""The main window over the real local runtime: sidebar states, status bar, plain-text device strings."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from console.core.devices.session import State
from console.ui.charts.chart import ChartCard
from console.ui.main_window import MainWindow, status_line
from console.ui.theme import Theme
from device_runtime.protocol import MetricSpec

pytestmark = pytest.mark.gui

EVIL = "<b>x</b><img src=file:///etc/passwd>"


def test_sidebar_and_status_bar_name_the_state_in_words(qtbot: QtBot, window: MainWindow) -> None:
    # the device's health word ("connected · healthy") follows once its first report arrives
    qtbot.waitUntil(lambda: window.sidebar.state_text("local").startswith("This computer\nconnected"), timeout=5_000)
    qtbot.waitUntil(lambda: "runtime 0.1.0" in window.status_label.text(), timeout=5_000)
    text = window.status_label.text()
    model = window.model()
    assert model is not None and model.capabilities is not None
    assert text.startswith("This computer · connected · runtime 0.1.0 · ")
    assert model.capabilities.board_model in text


def test_device_strings_are_plain_text(qtbot: QtBot, window: MainWindow) -> None:
    model = window.model()
    assert model is not None and model.capabilities is not None
    model.session.capabilities = dataclasses.replace(model.capabilities, board_model=EVIL)
    window._refresh_status()
    label = window.status_label
    assert label.textFormat() == Qt.TextFormat.PlainText
    assert EVIL in label.text()
    assert EVIL in status_line(model)


def test_metric_strings_are_plain_text(qtbot: QtBot, theme: Theme) -> None:
    spec = MetricSpec("evil", EVIL, "%", EVIL, EVIL)
    card = ChartCard(spec.chart, [spec], theme)
    qtbot.addWidget(card)
    assert card.title_label.textFormat() == Qt.TextFormat.PlainText
    assert card.title_label.text() == EVIL
    assert card.values_label.textFormat() == Qt.TextFormat.PlainText
    (legend,) = card.legend_labels
    assert legend.textFormat() == Qt.TextFormat.PlainText
    assert legend.text() == EVIL


def test_keyboard_shortcuts(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(window.sidebar.list.hasFocus, timeout=2_000)
    model = window.model()
    assert model is not None
    with qtbot.waitSignal(model.stateChanged, timeout=20_000,
                          check_params_cb=lambda state, _msg: state == State.CONNECTED.value):
        qtbot.keyClick(window, Qt.Key.Key_F5)
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.dashboard() is not None


def test_no_widget_of_the_window_becomes_a_window_of_its_own(qtbot: QtBot, window: MainWindow) -> None:
    """A label shown before it had a parent popped up on the desktop as a window of its own (and took
    the main window's activation, so its keyboard shortcuts stopped working)."""
    dashboard = window.dashboard()
    assert dashboard is not None
    qtbot.waitUntil(lambda: len(dashboard.charts) > 1, timeout=20_000)
    for key in ("models", "optimize", "jobs", "benchmarks", "health", "dashboard"):
        window.show_page(key)
        QApplication.processEvents()
        strays = [w for w in QApplication.topLevelWidgets() if w.isVisible() and w is not window]
        assert strays == [], [(type(w).__name__, w.objectName()) for w in strays]
    assert QApplication.activeWindow() is window
