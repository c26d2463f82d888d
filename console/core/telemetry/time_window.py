"""The span of device time the Dashboard's charts show, without Qt or a clock of its own.

Live, the span ends at the newest sample and moves with it; held, it stays where the user put
it. The wheel zooms it around the pointer, a drag pans it (reaching now goes live again), and
an event in the list moves it to show that event whole. Every call takes the newest sample's
time, so the rules are tested with plain numbers.
"""

from __future__ import annotations

MIN_SPAN_S = 10.0
MAX_SPAN_S = 86400.0


def clamp_span(seconds: float) -> float:
    return min(MAX_SPAN_S, max(MIN_SPAN_S, seconds))


class TimeWindow:
    def __init__(self, span_s: float) -> None:
        self.span_s = span_s
        self.live = True
        self.end: float | None = None  # device time of the right edge while held

    def range(self, newest: float | None) -> tuple[float, float] | None:
        """(start, end) in device time, or None before the first sample."""
        if newest is None:
            return None
        end = newest if self.live or self.end is None else self.end
        return end - self.span_s, end

    def set_live(self, live: bool, newest: float | None) -> None:
        """Follow the newest samples, or hold the range shown now."""
        shown = self.range(newest)
        self.live = live
        if not live and shown is not None:
            self.end = shown[1]

    def set_span(self, seconds: float, newest: float | None) -> None:
        """A preset span; held, the right edge stays where it is."""
        shown = self.range(newest)
        if not self.live and shown is not None:
            self.end = shown[1]
        self.span_s = seconds

    def zoom(self, factor: float, at: float, newest: float | None) -> bool:
        """Scale the span by ``factor`` around device time ``at`` (live: around now, which stays
        the right edge). False before the first sample."""
        shown = self.range(newest)
        if shown is None or newest is None:
            return False
        span = clamp_span(self.span_s * factor)
        if not self.live:
            ratio = min(1.0, max(0.0, (at - shown[0]) / self.span_s))
            self.end = min(at - ratio * span + span, newest)
        self.span_s = span
        return True

    def pan_end(self, dx: float, newest: float | None) -> float | None:
        """Where the right edge lands after moving by ``dx`` seconds: None to go live (it
        reached now, or there is nothing shown yet)."""
        shown = self.range(newest)
        if shown is None or newest is None or shown[1] + dx >= newest:
            return None
        return shown[1] + dx

    def show(self, start: float, end: float, newest: float | None) -> bool:
        """Hold a range that shows ``start`` to ``end`` whole (widened to fit, within a day),
        centred on it. False before the first sample."""
        if newest is None:
            return False
        self.span_s = min(MAX_SPAN_S, max(self.span_s, (end - start) * 1.5, MIN_SPAN_S))
        self.live = False
        self.end = min(newest, (start + end) / 2 + self.span_s / 2)
        return True
