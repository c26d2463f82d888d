"""The Dashboard's time span as plain numbers: live follows the newest sample, a hold stays put,
zoom keeps the point under the pointer, a pan that reaches now goes live, an event is shown whole."""

from __future__ import annotations

import pytest

from console.core.telemetry.time_window import MAX_SPAN_S, MIN_SPAN_S, TimeWindow


def test_live_follows_the_newest_sample_and_a_hold_stays_where_it_was() -> None:
    window = TimeWindow(60.0)
    assert window.range(None) is None  # nothing shown before the first sample
    assert window.range(1000.0) == (940.0, 1000.0)
    window.set_live(False, 1000.0)
    assert window.range(1030.0) == (940.0, 1000.0)  # held: new samples do not move it
    window.set_span(300.0, 1030.0)
    assert window.range(1030.0) == (700.0, 1000.0)  # a preset span keeps the held right edge
    window.set_live(True, 1030.0)
    assert window.range(1030.0) == (730.0, 1030.0)


def test_zoom_keeps_the_time_under_the_pointer_and_stays_within_limits() -> None:
    window = TimeWindow(100.0)
    window.set_live(False, 1000.0)  # shows 900..1000
    assert window.zoom(0.5, 950.0, 1000.0)
    start, end = window.range(1000.0)  # type: ignore[misc]
    assert (start, end) == (925.0, 975.0) and (950.0 - start) / (end - start) == pytest.approx(0.5)
    window.zoom(1e-6, 950.0, 1000.0)
    assert window.span_s == MIN_SPAN_S
    window.zoom(1e9, 950.0, 1000.0)
    assert window.span_s == MAX_SPAN_S and window.range(1000.0)[1] == 1000.0  # type: ignore[index]
    live = TimeWindow(100.0)
    live.zoom(2.0, 950.0, 1000.0)
    assert live.range(1000.0) == (800.0, 1000.0)  # live: now stays the right edge
    assert not TimeWindow(60.0).zoom(2.0, 0.0, None)


def test_a_pan_that_reaches_now_goes_live_and_an_event_is_shown_whole() -> None:
    window = TimeWindow(60.0)
    assert window.pan_end(-30.0, 1000.0) == 970.0
    assert window.pan_end(+5.0, 1000.0) is None  # past now: follow live
    window.show(400.0, 520.0, 1000.0)  # a two-minute alert: widened to fit, centred, held
    assert not window.live and window.span_s == 180.0
    assert window.range(1000.0) == (370.0, 550.0)
    window.show(995.0, 995.0, 1000.0)  # a moment near now: the range never ends in the future
    assert window.range(1000.0)[1] == 1000.0  # type: ignore[index]
