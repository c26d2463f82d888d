"""The Dashboard on a small screen: at 1280 x 720 a whole row of charts shows above the event list,
and a Jetson card with many series shows every name and value (the power card's first, VDD_IN, is
the board's total) inside the card instead of cutting the header on the left."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from console.core.app import ConsoleCore
from console.ui.dashboard.page import Dashboard
from console.ui.theme import Theme
from device_runtime.collectors.tegra import TegraCollector
from tests.support.dashboard import FIXTURES, T0, _board, _draw
from tests.support.windows import quiet_window

pytestmark = pytest.mark.gui


def test_a_whole_chart_row_shows_at_1280_by_720(qtbot: QtBot, core: ConsoleCore, theme: Theme) -> None:
    window = quiet_window(qtbot, core, theme)
    window.resize(1280, 720)
    board = window.page("dashboard")
    assert isinstance(board, Dashboard)
    qtbot.waitUntil(lambda: bool(board.charts), timeout=20_000)
    QApplication.processEvents()
    view = board.scroll_area.viewport()
    first = board.charts[0]
    top = first.mapTo(view, QPoint(0, 0)).y()
    assert top >= 0 and top + first.height() <= view.height(), (top, first.height(), view.height())
    assert board.events.isVisible() and board.events.height() >= 100  # the event list is still there


def test_a_narrow_jetson_power_card_shows_every_rail_and_its_value(qtbot: QtBot, core: ConsoleCore,
                                                                    theme: Theme) -> None:
    root = FIXTURES / "boards" / "orin-nano"
    collector = TegraCollector(str(root / "sys"), str(root / "proc"), str(root / "etc"), str(root / "var"))
    board, store = _board(qtbot, core, theme, collector.metrics())
    board.resize(1000, 4000)  # the page beside the sidebar in a 1280 px window
    for i in range(5):
        store.add(T0 + i * 0.1, collector.collect())
    _draw(board)
    view = board.scroll_area.viewport()
    assert board._content.width() <= view.width()  # no card runs off the page to the right
    rails = next(c for c in board.charts if c.title == "Power rails")
    texts = [label.text() for label in rails.legend_labels]
    assert texts[0] == "VDD_IN  9250\u00a0mW" and all(t.endswith("\u00a0mW") for t in texts)
    oc = next(c for c in board.charts if c.title == "Over-current throttling")
    for card in (rails, oc):
        for label in card.legend_labels:
            assert label.isVisible() and label.heightForWidth(label.width()) <= label.height(), label.text()
            assert label.mapTo(card, QPoint(label.width(), 0)).x() <= card.width()
    collector.close()
