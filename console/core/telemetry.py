"""Telemetry on the console: the metric table and bounded ring buffers of samples.

Memory stays flat however long a session runs: a fixed-size full-rate ring plus a
decimated ring (one min/max/mean bucket per interval) for long windows.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from device_runtime.protocol import MetricSpec

FloatArray = npt.NDArray[np.float64]


class Ring:
    """A fixed-capacity ring of rows (time + one column per metric), float32 values."""

    def __init__(self, capacity: int, columns: int) -> None:
        self.capacity = capacity
        self.times = np.full(capacity, np.nan, dtype=np.float64)
        self.values = np.full((capacity, columns), np.nan, dtype=np.float32)
        self.count = 0  # rows ever written
        self._head = 0

    def append(self, t: float, row: npt.NDArray[np.float32]) -> None:
        self.times[self._head] = t
        self.values[self._head] = row
        self._head = (self._head + 1) % self.capacity
        self.count += 1

    def __len__(self) -> int:
        return min(self.count, self.capacity)

    def ordered(self, column: int | None = None) -> tuple[FloatArray, npt.NDArray[np.float32]]:
        n = len(self)
        if n < self.capacity:
            idx = slice(0, n)
            t = self.times[idx]
            v = self.values[idx] if column is None else self.values[idx, column]
            return t, v
        order = np.r_[self._head:self.capacity, 0:self._head]
        t = self.times[order]
        v = self.values[order] if column is None else self.values[order, column]
        return t, v


class TelemetryStore:
    """Samples for one device session. Thread-safe: written by the connection's reader thread,
    read by the GUI or the CLI."""

    def __init__(self, metrics: Sequence[MetricSpec], capacity: int = 36_000,
                 decimated_capacity: int = 8_640, decimate_s: float = 10.0) -> None:
        self.metrics = list(metrics)
        self.index = {m.name: i for i, m in enumerate(self.metrics)}
        self._lock = threading.Lock()
        self.full = Ring(capacity, len(self.metrics))
        # Long windows: one row per ``decimate_s`` holding the bucket's max (peaks survive).
        self.decimated = Ring(decimated_capacity, len(self.metrics))
        self.decimate_s = decimate_s
        self._bucket_start: float | None = None
        self._bucket: npt.NDArray[np.float32] | None = None
        self.last_t: float | None = None
        self.last_seq = 0
        self.received = 0

    def add(self, t: float, values: dict[str, float], seq: int = 0) -> bool:
        """Store a sample; returns False for a duplicate or out-of-order one (back-fill overlap)."""
        row = np.full(len(self.metrics), np.nan, dtype=np.float32)
        index = self.index
        for name, value in values.items():
            col = index.get(name)
            if col is not None:
                row[col] = value
        with self._lock:
            if self.last_t is not None and t <= self.last_t:
                return False
            self.full.append(t, row)
            self._decimate(t, row)
            self.last_t = t
            self.last_seq = seq
            self.received += 1
        return True

    def _decimate(self, t: float, row: npt.NDArray[np.float32]) -> None:
        if self._bucket_start is None or self._bucket is None:
            self._bucket_start, self._bucket = t, row.copy()
            return
        if t - self._bucket_start >= self.decimate_s:
            self.decimated.append(self._bucket_start, self._bucket)
            self._bucket_start, self._bucket = t, row.copy()
        else:
            self._bucket = np.fmax(self._bucket, row)

    def series(self, name: str, window_s: float | None = None,
               now: float | None = None) -> tuple[FloatArray, FloatArray]:
        """Times and values of one metric, oldest first, within ``window_s`` of ``now``."""
        col = self.index[name]
        with self._lock:
            raw_t, raw_v = self.full.ordered(col)
            t: FloatArray = np.array(raw_t, dtype=np.float64)
            v: FloatArray = np.array(raw_v, dtype=np.float64)
            if window_s is not None and len(self.full) and now is not None:
                oldest = t[0] if len(t) else now
                if now - window_s < oldest and len(self.decimated):
                    dt, dv = self.decimated.ordered(col)
                    keep = (dt >= now - window_s) & (dt < oldest)
                    t = np.concatenate([dt[keep], t])
                    v = np.concatenate([np.array(dv[keep], dtype=np.float64), v])
        if window_s is not None and now is not None and len(t):
            keep = t >= now - window_s
            t, v = t[keep], v[keep]
        return t, v

    def latest(self, name: str) -> float | None:
        col = self.index.get(name)
        if col is None:
            return None
        with self._lock:
            n = len(self.full)
            if not n:
                return None
            value = float(self.full.values[(self.full._head - 1) % self.full.capacity, col])
        return None if np.isnan(value) else value

    def memory_bytes(self) -> int:
        return int(self.full.values.nbytes + self.full.times.nbytes + self.decimated.values.nbytes
                   + self.decimated.times.nbytes)
