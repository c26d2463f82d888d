"""Transfer rate over the last few seconds, shared by every progress display that moves bytes.

The rate is measured over a sliding window, not since the start: a link that was down for a
minute, or the burst that fills the socket buffers at the start, would otherwise make the rate
and the time left wrong for a long time.
"""

from __future__ import annotations

import collections

RATE_WINDOW_S = 3.0


class RateMeter:
    """Bytes per second over a sliding window of (time, bytes) points. No clock of its own."""

    def __init__(self, window_s: float = RATE_WINDOW_S) -> None:
        self.window_s = window_s
        self._points: collections.deque[tuple[float, int]] = collections.deque()

    def reset(self) -> None:
        """The byte count jumped (a new attempt resumes from what the device holds)."""
        self._points.clear()

    def add(self, t: float, sent: int) -> None:
        self._points.append((t, sent))
        while len(self._points) > 2 and t - self._points[1][0] >= self.window_s:
            self._points.popleft()

    def measured_s(self, now: float) -> float:
        """How long the points in hand span up to ``now``."""
        return now - self._points[0][0] if self._points else 0.0

    def rate(self, now: float) -> float:
        if len(self._points) < 2:
            return 0.0
        (t0, b0), (t1, b1) = self._points[0], self._points[-1]
        if now - t1 > self.window_s:  # nothing moved for a whole window
            return 0.0
        span = now - t0
        return (b1 - b0) / span if span > 0 else 0.0
