"""The dashboard against the real local runtime: real samples, real widgets, real pyqtgraph."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from console.core.devices.session import State
from console.core.text_units import duration
from console.ui.dashboard.layout import NOT_AVAILABLE, plan_sections
from console.ui.dashboard.page import Dashboard
from console.ui.dashboard.toolbar import WINDOWS_S
from console.ui.devices.qt_session import QtSession
from console.ui.theme import Theme
from console.ui.units import format_value

pytestmark = pytest.mark.gui


@pytest.fixture
def dashboard(qtbot: QtBot, local_model: QtSession, theme: Theme) -> Iterator[Dashboard]:
    board = Dashboard(local_model, theme, window_s=60.0)
    qtbot.addWidget(board)
    board.resize(1100, 800)
    board.show()
    with qtbot.waitSignal(local_model.tableChanged, timeout=20_000):
        local_model.connect_device()
    yield board
    board.hide()


def _wait_frame(qtbot: QtBot, board: Dashboard) -> None:
    drawn = board.frames_drawn
    board._dirty = True
    qtbot.waitUntil(lambda: board.frames_drawn > drawn, timeout=10_000)


def test_draws_real_samples_as_they_arrive(qtbot: QtBot, dashboard: Dashboard) -> None:
    qtbot.waitUntil(lambda: dashboard.points_drawn() >= 3, timeout=10_000)
    first = dashboard.points_drawn()
    qtbot.waitUntil(lambda: dashboard.points_drawn() >= first + 3, timeout=10_000)
    assert dashboard.model.state is State.CONNECTED
    curve = next(iter(dashboard.charts[0].curves.values()))
    x, y = curve.getOriginalDataset()
    assert len(x) == len(y) >= first + 3
    assert dashboard.notice.text() == ""


def test_sections_follow_the_metric_table_and_name_what_is_missing(qtbot: QtBot, dashboard: Dashboard) -> None:
    store = dashboard.model.store
    assert store is not None
    sections = plan_sections(store.metrics)
    assert [h.text() for h in dashboard.group_headers] == [s.group for s in sections]
    assert [h.text() for h in dashboard.group_headers][:6] == [
        "GPU", "CPU", "Memory", "Temperature", "Power", "Inference latency"]
    expected = [(c.title, [m.name for m in c.metrics]) for s in sections for c in s.cards if c.metrics]
    assert [(c.title_label.text(), list(c.curves)) for c in dashboard.charts] == expected
    names = {m.name for m in store.metrics}
    placeholders = {p.title_label.text(): p.text_label.text() for p in dashboard.placeholders}
    if not any(n.startswith(("gpu.", "jetson.gpu")) for n in names):  # this machine has no GPU
        assert placeholders["GPU load"] == "GPU load: %s." % NOT_AVAILABLE
    assert "No latency source is reporting yet" in placeholders["Inference latency"]
    for chart in dashboard.charts:
        assert len(chart.plot.getPlotItem().listDataItems()) == len(chart.metrics)
    qtbot.waitUntil(lambda: dashboard.points_drawn() >= 1, timeout=10_000)
    chart = dashboard.charts[0]
    unit = chart.metrics[0].unit
    assert unit in chart.plot.getPlotItem().getAxis("left").labelText
    assert unit in chart.values_label.text()


def test_live_off_freezes_the_view_and_live_on_snaps_back_to_now(qtbot: QtBot, dashboard: Dashboard) -> None:
    qtbot.waitUntil(lambda: dashboard.points_drawn() >= 2, timeout=10_000)
    dashboard.set_live(False)
    assert not dashboard.live and not dashboard.live_action.isChecked()
    store = dashboard.model.store
    assert store is not None
    frozen = dashboard.view_range()
    dashboard._on_frame()  # the frozen range drawn once (samples up to the moment Live went off)
    frozen_points = dashboard.points_drawn()
    received = store.received
    qtbot.waitUntil(lambda: store.received >= received + 5, timeout=10_000)
    dashboard._on_frame()
    assert dashboard.view_range() == frozen  # new samples do not move a frozen view
    assert dashboard.points_drawn() == frozen_points
    dashboard.live_action.trigger()  # what Space or a click does
    assert dashboard.live
    qtbot.waitUntil(lambda: dashboard.points_drawn() >= frozen_points + 5, timeout=10_000)
    shown = dashboard.view_range()
    assert shown is not None and frozen is not None and shown[1] > frozen[1]
    assert shown[1] == store.last_t


def test_rate_change_reaches_the_device(qtbot: QtBot, dashboard: Dashboard) -> None:
    model = dashboard.model
    assert model.session.rate_hz == 20.0
    index = dashboard.rate_box.findData(5.0)
    with qtbot.waitSignal(model.rateChanged, timeout=10_000) as blocker:
        dashboard.rate_box.setCurrentIndex(index)
    assert blocker.args == [5.0]
    assert model.session.rate_hz == 5.0
    assert dashboard.rate_box.currentData() == 5.0


@pytest.mark.parametrize(("text", "seconds"), WINDOWS_S)
def test_every_window_from_one_minute_to_a_day(qtbot: QtBot, dashboard: Dashboard, text: str,
                                                seconds: float) -> None:
    qtbot.waitUntil(lambda: dashboard.frames_drawn >= 1, timeout=10_000)
    dashboard.window_box.setCurrentIndex(dashboard.window_box.findText(text))
    _wait_frame(qtbot, dashboard)
    for chart in dashboard.charts[:2]:
        (x0, x1), _ = chart.plot.getPlotItem().vb.viewRange()
        assert x1 - x0 == pytest.approx(seconds, rel=0.01)


def test_hover_names_the_time_and_every_value_with_its_unit(qtbot: QtBot, dashboard: Dashboard) -> None:
    qtbot.waitUntil(lambda: dashboard.points_drawn() >= 5, timeout=10_000)
    dashboard.set_live(False)
    chart = next(c for c in dashboard.charts if c.title == "Memory")
    dashboard.scroll_area.ensureWidgetVisible(chart)  # charts off screen are not drawn
    _wait_frame(qtbot, dashboard)
    store = dashboard.model.store
    assert store is not None
    t, values = store.series("mem.used")
    target = float(t[-3])
    text = chart.hover_text(target - chart.origin)
    assert text is not None
    lines = text.splitlines()
    assert lines[0].startswith(time.strftime("%H:%M:%S", time.localtime(target)))
    assert lines[1] == "RAM used  %s" % format_value(float(values[-3]), "MB")  # "512 MB" or "1.02 GB"
    assert lines[1].endswith(("MB", "GB"))
    # the same through the mouse: the hover line and label follow the pointer
    plot = chart.plot
    vb = plot.getPlotItem().vb
    scene_pos = vb.mapViewToScene(QPointF(target - chart.origin, 0))
    plot.scene().sigMouseMoved.emit(scene_pos)
    assert chart._hover_text.isVisible() and chart._hover_text.toPlainText() == text


def _wheel(widget: object, pos: QPointF, notches: int,
           modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.ControlModifier) -> None:
    from PySide6.QtWidgets import QWidget

    assert isinstance(widget, QWidget)
    event = QWheelEvent(pos, QPointF(widget.mapToGlobal(pos.toPoint())), QPoint(0, 0), QPoint(0, 120 * notches),
                        Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_a_plain_wheel_over_a_chart_scrolls_the_page_and_a_paused_chart_says_so(
        qtbot: QtBot, dashboard: Dashboard) -> None:
    qtbot.waitUntil(lambda: dashboard.points_drawn() >= 5, timeout=10_000)
    dashboard.resize(900, 400)  # shorter than the charts: the page can scroll
    qtbot.waitUntil(lambda: dashboard.scroll_area.verticalScrollBar().maximum() > 0, timeout=10_000)
    span = dashboard.span_s
    bar = dashboard.scroll_area.verticalScrollBar()
    chart = next(c for c in dashboard.charts if not c.visibleRegion().isEmpty())
    viewport = chart.plot.viewport()
    _wheel(viewport, QPointF(viewport.width() / 2, viewport.height() / 2), -2, Qt.KeyboardModifier.NoModifier)
    assert bar.value() > 0 and dashboard.span_s == span and dashboard.live  # scrolled, not zoomed
    assert not dashboard.paused.isVisible()
    dashboard.set_live(False)
    paused = dashboard.paused
    assert paused.isVisible() and paused.text().startswith("Paused: the charts hold ")
    assert "Live (Space)" in paused.text()
    dashboard.set_live(True)
    assert not paused.isVisible()


def test_scroll_zooms_time_on_every_chart_and_live_snaps_back(qtbot: QtBot, dashboard: Dashboard) -> None:
    qtbot.waitUntil(lambda: dashboard.points_drawn() >= 5, timeout=10_000)
    dashboard.set_live(False)
    _wait_frame(qtbot, dashboard)
    chart = dashboard.charts[0]
    viewport = chart.plot.viewport()
    center = QPointF(viewport.width() / 2, viewport.height() / 2)
    _wheel(viewport, center, 2)  # two notches away from the user: zoom in
    assert dashboard.span_s < 60.0
    assert dashboard.window_box.currentText() == duration(dashboard.span_s)  # "33s": the one duration spelling
    _wait_frame(qtbot, dashboard)
    for other in dashboard.charts[:2]:
        (x0, x1), _ = other.plot.getPlotItem().vb.viewRange()
        assert x1 - x0 == pytest.approx(dashboard.span_s, rel=0.01)
    zoomed = dashboard.span_s
    _wheel(viewport, center, -4)
    assert dashboard.span_s > zoomed
    dashboard.pan(-5.0)
    assert not dashboard.live
    dashboard.pan(1e6)  # dragged past now: live again
    assert dashboard.live and dashboard.live_action.isChecked()
