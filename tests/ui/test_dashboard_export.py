"""Export from the Dashboard: the session as CSV and a chart as PNG, through the same path a
click on the toolbar or a card's menu takes (the file dialog answers with a temp path)."""

from __future__ import annotations

import csv
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from console.ui.charts.chart import EXPORT_WIDTH
from console.ui.dashboard.page import Dashboard
from console.ui.devices.qt_session import QtSession
from console.ui.theme import Theme

pytestmark = pytest.mark.gui


@pytest.fixture
def dashboard(qtbot: QtBot, local_model: QtSession, theme: Theme) -> Iterator[Dashboard]:
    board = Dashboard(local_model, theme, window_s=60.0)
    qtbot.addWidget(board)
    board.resize(1100, 800)
    board.show()
    with qtbot.waitSignal(local_model.tableChanged, timeout=20_000):
        local_model.connect_device()
    qtbot.waitUntil(lambda: board.points_drawn() >= 5, timeout=10_000)
    yield board
    board.hide()


class Answers:
    """Stands in for the person at the file dialog: records the question, gives a path."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.asked: list[tuple[str, str, str]] = []

    def __call__(self, _parent: object, title: str, suggested: str, file_filter: str) -> str | None:
        self.asked.append((title, suggested, file_filter))
        return str(self.path) if self.path is not None else None


def test_csv_export_writes_the_session_with_units(dashboard: Dashboard, tmp_path: Path) -> None:
    target = tmp_path / "session.csv"
    answers = dashboard.ask_save_path = Answers(target)
    store = dashboard.model.store
    assert store is not None
    dashboard.csv_action.trigger()
    title, suggested, file_filter = answers.asked[0]
    assert title == "Export telemetry as CSV" and suggested.startswith("local-telemetry-")
    assert file_filter == "CSV files (*.csv)"
    rows = list(csv.reader(target.read_text(encoding="utf-8").splitlines()))
    header = rows[0]
    assert header[:3] == ["time_iso", "time_epoch_s", "resolution"]
    assert "cpu.load [%]" in header and "mem.used [MB]" in header
    assert len(header) == 3 + len(store.metrics)
    assert len(rows) - 1 >= 5
    assert dashboard.export_note.text() == "Saved %d rows to %s" % (len(rows) - 1, target)
    mem = header.index("mem.used [MB]")
    assert all(float(r[mem]) > 0 for r in rows[1:])
    assert store.last_t is not None and float(rows[-1][1]) <= store.last_t + 1e-3


def test_csv_export_cancelled_or_refused_changes_nothing(dashboard: Dashboard, tmp_path: Path) -> None:
    before = sorted(tmp_path.rglob("*.csv"))
    dashboard.ask_save_path = Answers(None)
    dashboard.csv_action.trigger()
    assert dashboard.export_note.text() == "" and sorted(tmp_path.rglob("*.csv")) == before
    dashboard.ask_save_path = Answers(tmp_path / "missing" / "x.csv")
    dashboard.csv_action.trigger()
    assert "the folder" in dashboard.export_note.text() and "does not exist" in dashboard.export_note.text()


def test_png_export_from_a_card_menu(dashboard: Dashboard, tmp_path: Path) -> None:
    target = tmp_path / "cpu.png"
    answers = dashboard.ask_save_path = Answers(target)
    chart = dashboard.charts[0]
    chart.menu_button.png_action.trigger()
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert width == EXPORT_WIDTH and height >= 600  # rendered afresh at full size, not a 554 px screen grab
    assert dashboard.export_note.text() == "Saved %s (%d x %d px)" % (target, width, height)
    image = QImage(str(target))
    assert image.text("Title") == chart.title
    shown = dashboard.view_range()
    assert shown is not None
    about = image.text("Description")
    device, span, _rest = about.split(" · ", 2)
    assert device == "This computer"
    first, last = span.split(" to ")
    start = time.mktime(time.strptime(first, "%Y-%m-%d %H:%M:%S"))
    end = time.mktime(time.strptime(first[:11] + last, "%Y-%m-%d %H:%M:%S"))
    end += 86400 if end < start else 0  # a range across midnight names the end's time only
    # The live view moves on while the test reads it: the range saved is the one shown at the export.
    assert abs(start - shown[0]) <= 3 and abs(end - shown[1]) <= 3
    assert abs((end - start) - (shown[1] - shown[0])) <= 1
    assert chart.metrics[0].label in about
    suggested = answers.asked[0][1]
    assert suggested.startswith("local-CPU-load-") and suggested.endswith(".png")


def test_png_export_of_a_chart_off_screen(dashboard: Dashboard, tmp_path: Path) -> None:
    chart = dashboard.charts[-1]
    assert chart.visibleRegion().isEmpty()  # scrolled out of view, so not drawn lately
    dashboard.ask_save_path = Answers(tmp_path / "last.png")
    chart.pngRequested.emit()
    assert (tmp_path / "last.png").read_bytes()[:4] == b"\x89PNG"
    assert chart.points() >= 5  # it was drawn for the export
