"""Sliding-window latency statistics per source and stage, without I/O.

Readings arrive at any rate (a robot may infer at 1 kHz); every second the service asks for
the current windows. Memory is bounded: each (source, stage) keeps at most ``max_readings``
values, and sources silent for longer than the window drop out.

Times and durations sit in two parallel deques per (source, stage), so the once-a-second
statistics are one sort of plain floats in C, not a Python loop over every reading (at 1 kHz
that loop would cost the daemon milliseconds a second).
"""

from __future__ import annotations

import collections
from typing import Callable, Deque, Dict, List, Optional, Sequence, Tuple

from device_runtime.protocol import LatencyWindow

Key = Tuple[str, str]
MAX_TOTALS = 1024


def _percentile(sorted_values: List[float], q: float) -> float:
    """Nearest-rank percentile (what trtexec and most latency tools report)."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, -(-len(sorted_values) * q // 100))
    return sorted_values[int(rank) - 1]


class LatencyAggregator:
    def __init__(self, window_s: float = 10.0, history_s: float = 900.0, max_readings: int = 20000,
                 version_of: Optional[Callable[[str], Optional[str]]] = None) -> None:
        self.window_s = window_s
        self.max_readings = max_readings
        self.version_of = version_of
        self._readings: Dict[Key, Tuple[Deque[float], Deque[float]]] = {}  # (times, seconds)
        self._history: Deque[LatencyWindow] = collections.deque(maxlen=int(history_s) * 64)
        self._history_s = history_s
        self.rejected = 0
        # (count, sum of seconds) per (source, stage) since the daemon started, for counters that
        # only grow (Prometheus' summary). Bounded: sources past MAX_TOTALS are not counted.
        self.totals: Dict[Key, List[float]] = {}

    def _count(self, key: Key, n: int, seconds: float) -> None:
        total = self.totals.get(key)
        if total is None:
            if len(self.totals) >= MAX_TOTALS:
                return
            total = self.totals[key] = [0.0, 0.0]
        total[0] += n
        total[1] += seconds

    def _series(self, key: Key) -> Tuple[Deque[float], Deque[float]]:
        series = self._readings.get(key)
        if series is None:
            series = self._readings[key] = (collections.deque(maxlen=self.max_readings),
                                            collections.deque(maxlen=self.max_readings))
        return series

    def add(self, source: str, t: float, stages: Dict[str, float]) -> None:
        for stage, seconds in stages.items():
            times, values = self._series((source, stage))
            times.append(t)
            values.append(seconds)
            self._count((source, stage), 1, seconds)

    def add_many(self, source: str, t: Sequence[float], stages: Dict[str, Sequence[float]]) -> None:
        """Readings in bulk: ``t[i]`` with ``stages[stage][i]``; every sequence as long as ``t``."""
        for stage, seconds in stages.items():
            if len(seconds) != len(t):
                raise ValueError("stage %s has %d readings for %d times" % (stage, len(seconds), len(t)))
        for stage, seconds in stages.items():
            times, values = self._series((source, stage))
            times.extend(t)
            values.extend(seconds)
            self._count((source, stage), len(seconds), float(sum(seconds)))

    def windows(self, now: float) -> List[LatencyWindow]:
        """Statistics of every source that reported within the window; recorded in the history."""
        cutoff = now - self.window_s
        out: List[LatencyWindow] = []
        for key in list(self._readings):
            times, values = self._readings[key]
            while times and times[0] < cutoff:
                times.popleft()
                values.popleft()
            if not times:
                del self._readings[key]
                continue
            ordered = sorted(values)
            source, stage = key
            span = min(self.window_s, max(now - times[0], 1.0))
            out.append(LatencyWindow(
                source=source, stage=stage, t=now, window_s=self.window_s, count=len(ordered),
                p50_ms=_percentile(ordered, 50) * 1000.0, p95_ms=_percentile(ordered, 95) * 1000.0,
                p99_ms=_percentile(ordered, 99) * 1000.0, max_ms=ordered[-1] * 1000.0,
                rate_hz=len(ordered) / span, version=self.version_of(source) if self.version_of else None,
            ))
        self._history.extend(out)
        while self._history and self._history[0].t < now - self._history_s:
            self._history.popleft()
        return out

    def recent(self, now: float, seconds: float) -> List[LatencyWindow]:
        cutoff = now - seconds
        return [w for w in self._history if w.t >= cutoff]
