"""Alerts on the Dashboard: markers on the charts, rows in the event panel, the thresholds
dialog; first through the session's event path, then end to end from a real daemon whose
thermal zones come from a committed Jetson fixture tree."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialog
from pytestqt.qtbot import QtBot

from console.core.app import ConsoleCore
from console.core.env import ConsoleEnv
from console.ui.dashboard.event_panel import ONGOING
from console.ui.dashboard.page import Dashboard
from console.ui.devices.qt_session import QtSession
from console.ui.theme import Theme
from device_runtime.protocol import TOPIC_ALERT, AlertEvent, AlertThresholds, Event
from device_runtime.server.bridge import start_daemon

pytestmark = pytest.mark.gui

BOARDS = Path(__file__).resolve().parents[1] / "fixtures" / "boards"


def _open(qtbot: QtBot, model: QtSession, theme: Theme) -> Dashboard:
    board = Dashboard(model, theme, window_s=60.0)
    qtbot.addWidget(board)
    board.resize(1100, 900)
    board.show()
    with qtbot.waitSignal(model.tableChanged, timeout=20_000):
        model.connect_device()
    qtbot.waitUntil(lambda: board.points_drawn() >= 5, timeout=10_000)
    return board


@pytest.fixture
def dashboard(qtbot: QtBot, local_model: QtSession, theme: Theme) -> Iterator[Dashboard]:
    board = _open(qtbot, local_model, theme)
    yield board
    board.hide()


def _push(board: Dashboard, alert: AlertEvent) -> None:
    """What the connection's reader does with an ``alert`` event frame."""
    board.model.session._on_event(Event(TOPIC_ALERT, alert.to_wire()))


def _redraw(qtbot: QtBot, board: Dashboard) -> None:
    drawn = board.frames_drawn
    board._dirty = True
    qtbot.waitUntil(lambda: board.frames_drawn > drawn, timeout=10_000)


def test_alert_events_become_markers_and_rows(qtbot: QtBot, dashboard: Dashboard) -> None:
    store = dashboard.model.store
    assert store is not None and store.last_t is not None
    now = store.last_t
    cap = AlertEvent("cap-1", "power_cap", "warning", "gpu0", "GPU 0 is held at its 700 W power limit.", now - 20)
    hot = AlertEvent("hot-1", "temperature", "critical", "tj-thermal", "tj at 97 °C", now - 40, now - 30, value=97.0)
    _push(dashboard, cap)
    _push(dashboard, hot)
    rows = dashboard.events.rows()
    assert [r[:3] for r in rows] == [["Warning", "Power cap", "gpu0"], ["Critical", "Temperature", "tj-thermal"]]
    assert rows[0][5] == ONGOING and rows[0][6].endswith("so far")
    assert rows[1][6] == "10s"
    assert dashboard.events.count_label.text() == "2 alerts, 1 ongoing"
    _redraw(qtbot, dashboard)
    chart = dashboard.charts[0]
    assert sorted(chart.markers.labels()) == ["Power cap · gpu0 (warning)", "Temperature · tj-thermal (critical)"]
    region = chart.markers.items["hot-1"][0]
    low, high = region.getRegion()
    assert (low + chart.origin, high + chart.origin) == pytest.approx((now - 40, now - 30))
    hover = chart.hover_text(now - 35 - chart.origin)
    assert hover is not None and "Critical: Temperature (tj-thermal)" in hover

    ended = AlertEvent(cap.id, cap.kind, cap.severity, cap.source, cap.message, cap.start, now - 5)
    _push(dashboard, ended)
    rows = dashboard.events.rows()
    assert len(rows) == 2 and rows[0][5] != ONGOING and rows[0][6] == "15s"
    assert dashboard.events.count_label.text() == "2 alerts, 0 ongoing"
    _redraw(qtbot, dashboard)
    low, high = chart.markers.items["cap-1"][0].getRegion()
    assert high + chart.origin == pytest.approx(now - 5)

    dashboard.events.table.cellClicked.emit(1, 0)  # the engineer picks the old alert
    assert not dashboard.live
    shown = dashboard.view_range()
    assert shown is not None and shown[0] <= now - 40 and shown[1] >= now - 30


def test_markers_follow_the_view(qtbot: QtBot, dashboard: Dashboard) -> None:
    store = dashboard.model.store
    assert store is not None and store.last_t is not None
    _push(dashboard, AlertEvent("old", "clocks_below_max", "warning", "gpu", "old", store.last_t - 3000,
                                store.last_t - 2990))
    _redraw(qtbot, dashboard)
    assert dashboard.charts[0].markers.labels() == []  # an hour ago: outside the 1-minute view
    dashboard.window_box.setCurrentIndex(dashboard.window_box.findText("1 h"))
    _redraw(qtbot, dashboard)
    assert dashboard.charts[0].markers.labels() == ["Clocks below max · gpu (warning)"]


def test_thresholds_dialog_reads_validates_and_writes(qtbot: QtBot, dashboard: Dashboard) -> None:
    dialog = dashboard.open_thresholds()
    qtbot.waitUntil(dialog.save_button.isEnabled, timeout=10_000)
    assert dialog.fields["temperature_warning_c"].text() == "85"
    assert dialog.zones.text() == ""
    dialog.fields["temperature_warning_c"].setText("hot")
    dialog.fields["hold_s"].setText("-1")
    dialog.zones.setText("GPU")
    dialog.submit()
    errors = dialog.error.text().splitlines()
    assert "Temperature warning must be a number, not 'hot'." in errors
    assert any(e.startswith("Zone limits are written ZONE=°C") for e in errors)
    assert dialog.isVisible() and dialog.fields["hold_s"].text() == "-1"  # nothing typed is lost
    dialog.fields["temperature_warning_c"].setText("96")
    dialog.zones.setText("")
    dialog.submit()
    assert "Hold time must be between 0 and 3600 s (got -1)." in dialog.error.text()
    assert "must be below temperature critical (95 °C)" in dialog.error.text()
    dialog.fields["temperature_warning_c"].setText("80")
    dialog.fields["hold_s"].setText("1.5")
    dialog.zones.setText("GPU=75, tj=82")
    with qtbot.waitSignal(dialog.finished, timeout=10_000):
        dialog.submit()
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.saved == AlertThresholds(temperature_warning_c=80.0, hold_s=1.5,
                                           zone_limits_c={"GPU": 75.0, "tj": 82.0})
    again = dashboard.open_thresholds()
    qtbot.waitUntil(again.save_button.isEnabled, timeout=10_000)
    assert again.fields["temperature_warning_c"].text() == "80" and again.zones.text() == "GPU=75, tj=82"
    again.reject()


@pytest.fixture
def board_model(ui_env: ConsoleEnv) -> Iterator[QtSession]:
    """The local device served by a daemon that reads the Orin Nano fixture (zones at 44-48 °C)."""
    start_daemon(str(ui_env.local_socket), str(ui_env.local_root),
                 ["--rate", "10", "--sys-root", str(BOARDS / "orin-nano" / "sys")])
    core = ConsoleCore(ui_env)
    model = QtSession(core.session("local"), rate_hz=10.0)
    yield model
    model.close()
    core.close()


def test_end_to_end_low_threshold_shows_a_marker_and_a_row(qtbot: QtBot, board_model: QtSession,
                                                            theme: Theme) -> None:
    board = _open(qtbot, board_model, theme)
    assert board.events.rows() == []
    dialog = board.open_thresholds()
    qtbot.waitUntil(dialog.save_button.isEnabled, timeout=10_000)
    dialog.fields["temperature_warning_c"].setText("46")
    dialog.fields["hold_s"].setText("0")
    with qtbot.waitSignal(dialog.finished, timeout=10_000):
        dialog.submit()
    qtbot.waitUntil(lambda: len(board.events.rows()) >= 1, timeout=15_000)
    row = board.events.rows()[-1]
    assert row[:2] == ["Warning", "Temperature"] and row[5] == ONGOING
    assert "over its warning limit of 46 °C" in row[3]
    temperatures = next(c for c in board.charts if c.title == "Temperatures")
    board.scroll_area.ensureWidgetVisible(temperatures)
    qtbot.waitUntil(lambda: any(label.startswith("Temperature · ") for label in temperatures.markers.labels()),
                    timeout=10_000)
    board.hide()
