"""Telemetry on the console: the metric table and bounded ring buffers of samples.

Memory stays flat however long a session runs: a fixed-size full-rate ring (two hours at
10 Hz by default) plus a ring of min/max buckets (24 hours of 10 s buckets) for the part of a
long window that is older than the full-rate ring. Both are allocated once, up front.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from device_runtime.protocol import MetricSpec

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]

FULL_RATE_ROWS = 72_000  # 2 h at 10 Hz, 4 h at 5 Hz
PEAK_BUCKETS = 8_640  # 24 h of 10 s buckets
BUCKET_S = 10.0


def _segments(lows: FloatArray, highs: FloatArray, head: int, size: int, full: bool, start: float,
              end: float) -> list[slice]:
    """Physical slices, oldest first, of the rows with ``highs >= start`` and ``lows <= end``
    (both sorted in ring order; for plain rows they are the same array of times)."""
    parts = [slice(head, size), slice(0, head)] if full else [slice(0, size)]
    out = []
    for part in parts:
        if part.stop <= part.start:
            continue
        lo = int(np.searchsorted(highs[part], start, "left"))
        hi = int(np.searchsorted(lows[part], end, "right"))
        if hi > lo:
            out.append(slice(part.start + lo, part.start + hi))
    return out


class Ring:
    """A fixed-capacity ring of rows (time + one float32 value per metric).

    Values are stored metric-major (``values[metric, row]``): a chart reads a few metrics over
    many rows, and each metric's rows are then one contiguous copy.
    """

    def __init__(self, capacity: int, columns: int) -> None:
        self.capacity = capacity
        self.times = np.full(capacity, np.nan, dtype=np.float64)
        self.values = np.full((columns, capacity), np.nan, dtype=np.float32)
        self.count = 0  # rows ever written
        self._head = 0

    def append(self, t: float, row: Float32Array) -> None:
        self.times[self._head] = t
        self.values[:, self._head] = row
        self._head = (self._head + 1) % self.capacity
        self.count += 1

    def __len__(self) -> int:
        return min(self.count, self.capacity)

    @property
    def oldest(self) -> float | None:
        if not self.count:
            return None
        return float(self.times[self._head if self.count >= self.capacity else 0])

    @property
    def newest_row(self) -> Float32Array:
        row: Float32Array = self.values[:, (self._head - 1) % self.capacity]
        return row

    def slices(self, start: float, end: float, highs: FloatArray | None = None) -> list[slice]:
        """Where the rows within [start, end] lie; with ``highs`` (each row's last time), the
        rows whose span [time, high] meets it."""
        return _segments(self.times, self.times if highs is None else highs, self._head, len(self),
                         self.count >= self.capacity, start, end)

    def count_between(self, start: float, end: float) -> int:
        return sum(s.stop - s.start for s in self.slices(start, end))

    def window(self, columns: list[int] | slice, start: float, end: float) -> tuple[FloatArray, Float32Array]:
        """Times and the chosen columns of the rows within [start, end], oldest first; values
        as ``[row, column]`` (a transposed view of metric-major data)."""
        return self.gather(self.times, self.values, columns, self.slices(start, end))

    def gather(self, times: FloatArray, values: Float32Array, columns: list[int] | slice,
               parts: list[slice]) -> tuple[FloatArray, Float32Array]:
        if not parts:
            width = values[columns].shape[0]
            return np.empty(0), np.empty((0, width), dtype=np.float32)
        t = np.concatenate([times[p] for p in parts])
        # Slice the rows first (a view), then pick the columns: only the window is copied.
        v = np.concatenate([values[:, p][columns] for p in parts], axis=1)
        return t, v.T


class PeakRing:
    """Min/max buckets: each keeps its first and last sample time and the per-column extremes."""

    def __init__(self, capacity: int, columns: int) -> None:
        self.first = Ring(capacity, columns)  # times: first sample; values: minimum
        self.last_t = np.full(capacity, np.nan, dtype=np.float64)
        self.high = np.full((columns, capacity), np.nan, dtype=np.float32)

    def append(self, t0: float, t1: float, low: Float32Array, high: Float32Array) -> None:
        index = self.first._head
        self.first.append(t0, low)
        self.last_t[index] = t1
        self.high[:, index] = high

    def __len__(self) -> int:
        return len(self.first)

    @property
    def count(self) -> int:
        return self.first.count

    def window(self, columns: list[int] | slice, start: float, end: float) -> tuple[FloatArray, Float32Array]:
        """Each bucket that overlaps [start, end] as two points, (first time, min) and (last time,
        max), oldest first. Points of a bucket that only partly overlaps may lie outside."""
        ring = self.first
        parts = ring.slices(start, end, self.last_t)
        t0, lo = ring.gather(ring.times, ring.values, columns, parts)
        t1, hi = ring.gather(self.last_t, self.high, columns, parts)
        t = np.empty(2 * len(t0))
        t[0::2], t[1::2] = t0, np.maximum(t1, t0)
        v = np.empty((2 * len(t0), lo.shape[1]), dtype=np.float32)
        v[0::2], v[1::2] = lo, hi
        return t, v

    def times_between(self, start: float, end: float) -> FloatArray:
        """The point times :meth:`window` gives, without reading any value."""
        ring = self.first
        parts = ring.slices(start, end, self.last_t)
        if not parts:
            return np.empty(0)
        t = np.empty(2 * sum(p.stop - p.start for p in parts))
        t[0::2] = np.concatenate([ring.times[p] for p in parts])
        t[1::2] = np.maximum(np.concatenate([self.last_t[p] for p in parts]), t[0::2])
        return t


@dataclass(frozen=True)
class Mark:
    """What a store held at one moment; :meth:`TelemetryStore.changes_since` says which times
    may read differently now, so a reader can keep what it derived from the rest."""

    rows: int  # samples ever written to the full-rate ring
    buckets: int  # min/max buckets ever closed
    oldest: float  # the ring's oldest sample time (nan while empty)
    last_t: float  # the newest sample time (nan while empty)
    pending: float  # the first time of the bucket still open (nan while none)


@dataclass
class Changes:
    """What :meth:`TelemetryStore.changes_since` reports: rows at times before ``before``, in
    [``start``, ``stop``) and after ``after`` may read differently; all else reads the same."""

    before: float = -math.inf
    start: float = math.inf
    stop: float = math.inf
    after: float = math.inf


@dataclass
class Window:
    """What a chart or an export reads: times, one column per asked metric, and how many of the
    leading rows are min/max bucket points rather than samples."""

    times: FloatArray
    values: Float32Array
    peak_rows: int = 0


class TelemetryStore:
    """Samples for one device session. Thread-safe: written by the connection's reader thread,
    read by the GUI or the CLI."""

    def __init__(self, metrics: Sequence[MetricSpec], capacity: int = FULL_RATE_ROWS,
                 decimated_capacity: int = PEAK_BUCKETS, decimate_s: float = BUCKET_S) -> None:
        self.metrics = list(metrics)
        self.index = {m.name: i for i, m in enumerate(self.metrics)}
        columns = len(self.metrics)
        self._lock = threading.Lock()
        self.full = Ring(capacity, columns)
        self.peaks = PeakRing(decimated_capacity, columns)
        self.decimate_s = decimate_s
        self._bucket_t0: float | None = None
        self._bucket_t1 = 0.0
        self._low = np.full(columns, np.nan, dtype=np.float32)
        self._high = np.full(columns, np.nan, dtype=np.float32)
        self._seen = np.zeros(columns, dtype=bool)
        self.first_t: float | None = None
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
            self._bucket(t, row)
            self._seen |= np.isfinite(row)
            if self.first_t is None:
                self.first_t = t
            self.last_t = t
            self.last_seq = seq
            self.received += 1
        return True

    def mark_gap(self, t: float) -> bool:
        """A moment without data (the link dropped): chart lines break here instead of drawing a
        straight line across the outage. Not counted as a sample; False if ``t`` is not newer."""
        row = np.full(len(self.metrics), np.nan, dtype=np.float32)
        with self._lock:
            if self.last_t is None or t <= self.last_t:
                return False
            self.full.append(t, row)
            self._bucket(t, row)
            self.last_t = t
        return True

    def _bucket(self, t: float, row: Float32Array) -> None:
        if self._bucket_t0 is not None and t - self._bucket_t0 >= self.decimate_s:
            self.peaks.append(self._bucket_t0, self._bucket_t1, self._low, self._high)
            self._bucket_t0 = None
        if self._bucket_t0 is None:
            self._bucket_t0 = t
            self._low[:] = row
            self._high[:] = row
        else:
            np.fmin(self._low, row, out=self._low)
            np.fmax(self._high, row, out=self._high)
        self._bucket_t1 = t

    # -- reading -----------------------------------------------------------------------------
    def window(self, names: Sequence[str] | None, start: float, end: float) -> Window:
        """Rows of ``names`` (every metric for None) with ``start <= t <= end``: full-rate samples
        where the ring still has them, min/max bucket points before that. What a time reads
        does not depend on the range asked for, so windows of adjacent ranges join up exactly."""
        columns: list[int] | slice = slice(None) if names is None else [self.index[n] for n in names]
        with self._lock:
            oldest = self.full.oldest
            t, v = self.full.window(columns, start, end)
            if oldest is None or start >= oldest or not len(self.peaks):
                return Window(t, v)
            pt, pv = self.peaks.window(columns, start, min(end, oldest))
        keep = (pt >= start) & (pt <= end) & (pt < oldest)
        pt, pv = pt[keep], pv[keep]
        return Window(np.concatenate([pt, t]), np.concatenate([pv, v]), len(pt))

    def count(self, start: float, end: float) -> int:
        """How many rows :meth:`window` would give for [start, end], without copying any."""
        with self._lock:
            oldest = self.full.oldest
            rows = self.full.count_between(start, end)
            if oldest is None or start >= oldest or not len(self.peaks):
                return rows
            pt = self.peaks.times_between(start, min(end, oldest))
        return rows + int(np.count_nonzero((pt >= start) & (pt <= end) & (pt < oldest)))

    def mark(self) -> Mark:
        """The store's state now, for :meth:`changes_since`."""
        nan = float("nan")
        with self._lock:
            oldest = self.full.oldest
            return Mark(self.full.count, self.peaks.count, nan if oldest is None else oldest,
                        nan if self.last_t is None else self.last_t,
                        nan if self._bucket_t0 is None else self._bucket_t0)

    def changes_since(self, mark: Mark) -> Changes:
        """Which times may read differently now than when ``mark`` was taken. New samples
        change what follows the newest one; a sample leaving the ring turns its time into
        bucket points, and a bucket closing adds its points where the ring no longer reaches
        (both up to the ring's oldest sample now); the bucket ring dropping its oldest bucket
        removes the oldest times."""
        changes = Changes()
        with self._lock:
            if not mark.rows or (self.peaks.count != mark.buckets and math.isnan(mark.pending)):
                return Changes(after=-math.inf) if self.full.count else changes
            oldest = self.full.oldest
            assert oldest is not None  # rows were written: the ring holds some
            if self.full.count != mark.rows:
                changes.after = mark.last_t
                if self.full.count > self.full.capacity:
                    changes.start, changes.stop = mark.oldest, oldest
            if self.peaks.count != mark.buckets:
                if mark.pending < oldest:
                    changes.start, changes.stop = min(changes.start, mark.pending), oldest
                if self.peaks.count > self.peaks.first.capacity:
                    first = self.peaks.first.oldest
                    changes.before = math.inf if first is None else first
        return changes

    @property
    def full_rate_from(self) -> float | None:
        """The oldest time still held at full rate; older rows are bucket points."""
        with self._lock:
            return self.full.oldest

    def series(self, name: str, window_s: float | None = None,
               now: float | None = None) -> tuple[FloatArray, FloatArray]:
        """Times and values of one metric, oldest first, within ``window_s`` of ``now``; without
        a window, every sample the full-rate ring holds."""
        if window_s is None or now is None:
            with self._lock:
                t, v = self.full.window([self.index[name]], -np.inf, np.inf)
            return t, v[:, 0].astype(np.float64)
        w = self.window([name], now - window_s, now)
        return w.times, w.values[:, 0].astype(np.float64)

    def nearest(self, t: float) -> tuple[float, dict[str, float]] | None:
        """The full-rate sample closest to ``t`` (None before the ring's oldest sample)."""
        with self._lock:
            oldest = self.full.oldest
            if oldest is None or t < oldest - 1.0:
                return None
            times, values = self.full.window(slice(None), t - 5.0, t + 5.0)
        if not len(times):
            return None
        i = int(np.argmin(np.abs(times - t)))
        return float(times[i]), {m.name: float(values[i, c]) for c, m in enumerate(self.metrics)}

    def latest(self, name: str) -> float | None:
        col = self.index.get(name)
        if col is None:
            return None
        with self._lock:
            if not self.full.count:
                return None
            value = float(self.full.newest_row[col])
        return None if np.isnan(value) else value

    def seen(self, name: str) -> bool:
        """Whether the device has ever reported a value for ``name`` in this session."""
        col = self.index.get(name)
        return col is not None and bool(self._seen[col])

    def memory_bytes(self) -> int:
        rings = (self.full.values, self.full.times, self.peaks.first.values, self.peaks.first.times,
                 self.peaks.last_t, self.peaks.high)
        return int(sum(a.nbytes for a in rings))
