"""The dashboard against the real local runtime: real samples, real widgets, real pyqtgraph."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from console.core.session import State
from console.ui.dashboard import Dashboard, group_charts
from console.ui.session_model import SessionModel
from console.ui.theme import Theme

pytestmark = pytest.mark.gui


@pytest.fixture
def dashboard(qtbot: QtBot, local_model: SessionModel, theme: Theme) -> Iterator[Dashboard]:
    board = Dashboard(local_model, theme, window_s=60.0)
    qtbot.addWidget(board)
    board.resize(1100, 800)
    board.show()
    with qtbot.waitSignal(local_model.tableChanged, timeout=20_000):
        local_model.connect_device()
    yield board
    board.hide()


def test_draws_real_samples_as_they_arrive(qtbot: QtBot, dashboard: Dashboard) -> None:
    qtbot.waitUntil(lambda: dashboard.points_drawn() >= 3, timeout=10_000)
    first = dashboard.points_drawn()
    qtbot.waitUntil(lambda: dashboard.points_drawn() >= first + 3, timeout=10_000)
    assert dashboard.model.state is State.CONNECTED
    curve = next(iter(dashboard.charts[0].curves.values()))
    x, y = curve.getOriginalDataset()
    assert len(x) == len(y) >= first + 3
    assert dashboard.notice.text() == ""


def test_charts_follow_the_metric_table(qtbot: QtBot, dashboard: Dashboard) -> None:
    store = dashboard.model.store
    assert store is not None
    groups = group_charts(store.metrics)
    assert [h.text() for h in dashboard.group_headers] == list(groups)
    expected = [(title, [m.name for m in specs]) for charts in groups.values() for title, specs in charts.items()]
    actual = [(c.title_label.text(), list(c.curves)) for c in dashboard.charts]
    assert actual == expected
    for chart in dashboard.charts:
        assert len(chart.plot.getPlotItem().listDataItems()) == len(chart.metrics)
    qtbot.waitUntil(lambda: dashboard.points_drawn() >= 1, timeout=10_000)
    chart = dashboard.charts[0]
    unit = chart.metrics[0].unit
    assert unit in chart.plot.getPlotItem().getAxis("left").labelText
    assert unit in chart.values_label.text()


def test_pause_stops_redraws_and_resume_catches_up(qtbot: QtBot, dashboard: Dashboard) -> None:
    qtbot.waitUntil(lambda: dashboard.points_drawn() >= 2, timeout=10_000)
    dashboard.set_paused(True)
    assert dashboard.pause_action.text() == "Resume"
    store = dashboard.model.store
    assert store is not None
    frozen_points, frozen_frames = dashboard.points_drawn(), dashboard.frames_drawn
    received = store.received
    qtbot.waitUntil(lambda: store.received >= received + 5, timeout=10_000)
    dashboard._on_frame()  # a timer tick while paused draws nothing
    assert dashboard.points_drawn() == frozen_points
    assert dashboard.frames_drawn == frozen_frames
    dashboard.set_paused(False)
    qtbot.waitUntil(lambda: dashboard.points_drawn() >= frozen_points + 5, timeout=10_000)


def test_rate_change_reaches_the_device(qtbot: QtBot, dashboard: Dashboard) -> None:
    model = dashboard.model
    assert model.session.rate_hz == 20.0
    index = dashboard.rate_box.findData(5.0)
    with qtbot.waitSignal(model.rateChanged, timeout=10_000) as blocker:
        dashboard.rate_box.setCurrentIndex(index)
    assert blocker.args == [5.0]
    assert model.session.rate_hz == 5.0
    assert dashboard.rate_box.currentData() == 5.0


def test_window_selector_narrows_the_time_axis(qtbot: QtBot, dashboard: Dashboard) -> None:
    qtbot.waitUntil(lambda: dashboard.frames_drawn >= 1, timeout=10_000)
    dashboard.window_box.setCurrentIndex(dashboard.window_box.findData(3600.0))
    drawn = dashboard.frames_drawn
    qtbot.waitUntil(lambda: dashboard.frames_drawn > drawn, timeout=10_000)
    (x0, x1), _ = dashboard.charts[0].plot.getPlotItem().vb.viewRange()
    assert x1 - x0 == pytest.approx(3600.0, rel=0.01)
