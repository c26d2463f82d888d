"""A chart's peak-decimated window, kept between frames.

A live frame moves the window by one sample, yet decimating it from scratch reads and reduces
every stored row in view (36,000 per series for an hour at 10 Hz). Bins sit on a grid aligned
to absolute time, so a bin that lies wholly before the newest sample never changes unless the
store says rows in it changed (:meth:`TelemetryStore.changes_since`). This cache keeps those
bins and each frame reduces only what is new: the bins after the last complete one.

The result is always exactly what :func:`peak_decimate` gives for the same window read from
scratch; tests compare the two over random appends, window moves, ring wraps and gaps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from console.core.telemetry.metrics import Mark, TelemetryStore
from console.core.telemetry.peak_bins import Float32Array, FloatArray, bin_edges, bin_width, first_bin, reduce_bins

IntArray = npt.NDArray[np.int64]


class PeakCache:
    """Complete min/max bins of one set of series, for one bin width and one store.

    ``read`` returns the decimated window; ``bins_reduced`` counts the bins it reduced from
    rows (cached bins cost nothing), so tests and benches can see the cache work.
    """

    def __init__(self) -> None:
        self.bins_reduced = 0
        self._store: TelemetryStore | None = None
        self._key: tuple[tuple[str, ...], float] | None = None
        self._mark: Mark | None = None
        self._from = 0  # bins [_from, _to) are reduced and cached (empty ones hold no points)
        self._to = 0
        self._bins: IntArray = np.empty(0, dtype=np.int64)  # the bin of each cached point pair
        self._times: FloatArray = np.empty(0)
        self._values: Float32Array = np.empty((0, 0), dtype=np.float32)

    def read(self, store: TelemetryStore, names: Sequence[str], start: float, end: float,
             bins: int) -> tuple[FloatArray, Float32Array]:
        """``peak_decimate(store.window(names, start - width, end), start, end, bins)``, with
        the width of :func:`bin_width`, reusing the bins earlier calls reduced."""
        if bins <= 0 or end <= start:
            window = store.window(names, start, end)
            return window.times, window.values
        width = bin_width(start, end, bins)
        if store.count(start - width, end) <= 2 * bins:  # peak_decimate passes these through
            window = store.window(names, start - width, end)
            return window.times, window.values
        mark = store.mark()  # before reading: what changes after it shows up next frame
        first = first_bin(start, width)
        last = first + bins  # the last bin peak_decimate uses
        redo = self._validate(store, (tuple(names), width), mark, first, len(names))
        # Bins that end by ``end`` are complete: later samples only come after ``end``.
        complete = min(last + 1, max(first, _edge_at_or_below(end, width)))
        self._to = min(self._to, complete)
        if self._to < first or self._from > first:
            self._reset(first)
        self._drop_before(first)
        self._drop_from(self._to)
        if redo is not None:
            self._reduce_again(store, names, width, *redo)

        fresh = store.window(names, self._to * width, end)
        filled, t, v = reduce_bins(fresh.times, fresh.values, bin_edges(self._to, last + 2 - self._to, width))
        self.bins_reduced += len(filled)
        fresh_bins = filled.astype(np.int64) + self._to
        done = int(np.searchsorted(fresh_bins, complete))
        self._bins = np.concatenate([self._bins, fresh_bins[:done]])
        self._times = np.concatenate([self._times, t[: 2 * done]])
        self._values = np.concatenate([self._values, v[: 2 * done]])
        self._to = max(self._to, complete)
        self._mark = mark
        return np.concatenate([self._times, t[2 * done:]]), np.concatenate([self._values, v[2 * done:]])

    def _validate(self, store: TelemetryStore, key: tuple[tuple[str, ...], float], mark: Mark,
                  first: int, columns: int) -> tuple[float, float] | None:
        """Forget the bins whose rows may have changed since the last read at either end;
        returns the time range in between whose bins must be reduced again, if any."""
        if store is not self._store or key != self._key or self._mark is None:
            self._store, self._key = store, key
            self._values = np.empty((0, columns), dtype=np.float32)
            self._reset(first)
            return None
        width = key[1]
        changes = store.changes_since(self._mark)
        if changes.after < math.inf:  # keep the bins that end by ``after``
            self._to = self._from if changes.after == -math.inf else \
                min(self._to, _edge_at_or_below(changes.after, width))
        if changes.before > -math.inf:  # keep the bins that start from ``before`` on
            self._drop_before(min(_edge_at_or_above(changes.before, width), self._to))
        return (changes.start, changes.stop) if changes.start < changes.stop else None

    def _reduce_again(self, store: TelemetryStore, names: Sequence[str], width: float, start: float,
                      stop: float) -> None:
        """Replace the cached bins that overlap [start, stop) with bins reduced from the rows now."""
        lo = max(self._from, _edge_at_or_below(start, width))
        hi = min(self._to, _edge_at_or_above(stop, width))  # bins lo .. hi - 1
        if lo >= hi:
            return
        rows = store.window(names, lo * width, hi * width)
        filled, t, v = reduce_bins(rows.times, rows.values, bin_edges(lo, hi - lo + 1, width))
        self.bins_reduced += len(filled)
        i, j = int(np.searchsorted(self._bins, lo)), int(np.searchsorted(self._bins, hi))
        self._bins = np.concatenate([self._bins[:i], filled.astype(np.int64) + lo, self._bins[j:]])
        self._times = np.concatenate([self._times[: 2 * i], t, self._times[2 * j:]])
        self._values = np.concatenate([self._values[: 2 * i], v, self._values[2 * j:]])

    def _reset(self, first: int) -> None:
        self._from = self._to = first
        self._bins = self._bins[:0]
        self._times = self._times[:0]
        self._values = self._values[:0]

    def _drop_before(self, k: int) -> None:
        if k <= self._from:
            return
        cut = int(np.searchsorted(self._bins, k))
        self._bins, self._times, self._values = self._bins[cut:], self._times[2 * cut:], self._values[2 * cut:]
        self._from = k
        self._to = max(self._to, k)

    def _drop_from(self, k: int) -> None:
        cut = int(np.searchsorted(self._bins, k))
        self._bins, self._times, self._values = self._bins[:cut], self._times[: 2 * cut], self._values[: 2 * cut]


def _edge_at_or_above(t: float, width: float) -> int:
    """The smallest k with ``k * width >= t``."""
    k = math.ceil(t / width)
    while (k - 1) * width >= t:
        k -= 1
    while k * width < t:
        k += 1
    return k


def _edge_at_or_below(t: float, width: float) -> int:
    """The largest k with ``k * width <= t``, computed as :func:`bin_edges` computes edges."""
    k = math.floor(t / width)
    while k * width > t:
        k -= 1
    while (k + 1) * width <= t:
        k += 1
    return k
