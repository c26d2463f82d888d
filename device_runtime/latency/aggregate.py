"""Sliding-window latency statistics per source and stage, without I/O.

Readings arrive at any rate (a robot may infer at 1 kHz); every second the service asks for
the current windows. Memory is bounded: each (source, stage) keeps at most ``max_readings``
values, and sources silent for longer than the window drop out.
"""

from __future__ import annotations

import collections
from typing import Callable, Deque, Dict, List, Optional, Tuple

from device_runtime.protocol import LatencyWindow

Key = Tuple[str, str]


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
        self._readings: Dict[Key, Deque[Tuple[float, float]]] = {}
        self._history: Deque[LatencyWindow] = collections.deque(maxlen=int(history_s) * 64)
        self._history_s = history_s
        self.rejected = 0

    def add(self, source: str, t: float, stages: Dict[str, float]) -> None:
        for stage, seconds in stages.items():
            key = (source, stage)
            values = self._readings.get(key)
            if values is None:
                values = self._readings[key] = collections.deque(maxlen=self.max_readings)
            values.append((t, seconds))

    def windows(self, now: float) -> List[LatencyWindow]:
        """Statistics of every source that reported within the window; recorded in the history."""
        cutoff = now - self.window_s
        out: List[LatencyWindow] = []
        for key in list(self._readings):
            values = self._readings[key]
            while values and values[0][0] < cutoff:
                values.popleft()
            if not values:
                del self._readings[key]
                continue
            ms = sorted(v * 1000.0 for _, v in values)
            source, stage = key
            span = min(self.window_s, max(now - values[0][0], 1.0))
            out.append(LatencyWindow(
                source=source, stage=stage, t=now, window_s=self.window_s, count=len(ms),
                p50_ms=_percentile(ms, 50), p95_ms=_percentile(ms, 95), p99_ms=_percentile(ms, 99),
                max_ms=ms[-1], rate_hz=len(ms) / span,
                version=self.version_of(source) if self.version_of else None,
            ))
        self._history.extend(out)
        while self._history and self._history[0].t < now - self._history_s:
            self._history.popleft()
        return out

    def recent(self, now: float, seconds: float) -> List[LatencyWindow]:
        cutoff = now - seconds
        return [w for w in self._history if w.t >= cutoff]
