"""Peak decimation: min/max bins on a grid aligned to absolute time.

A chart of thousands of samples per pixel column draws, per bin of a few columns, each series'
minimum at the bin's first sample time and its maximum at its last: every spike and dip stays
visible. Bins sit on a grid aligned to absolute time (bin k covers [k * width, (k + 1) * width))
so that a sliding window keeps its shape and ``PeakCache`` can keep the bins of earlier frames.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]


def bin_width(start: float, end: float, bins: int) -> float:
    """The width of one of ``bins`` bins across [start, end]. The span is rounded to 0.1 ms:
    ``end - start`` of epoch times wobbles in its last bits as a window slides, and a width
    that stays put keeps the bin grid, and every bin already reduced, the same."""
    span = end - start
    rounded = round(span, 4)
    return (rounded if rounded > 0 else span) / bins


def first_bin(start: float, width: float) -> int:
    """The index of the grid bin holding ``start``; bin k covers [k * width, (k + 1) * width)."""
    return int(np.floor(start / width))


def bin_edges(first: int, count: int, width: float) -> FloatArray:
    """``count`` edges from bin ``first`` on, computed as ``k * width`` for every k, so that
    one bin's edges are the same numbers whichever range of bins is asked for."""
    edges: FloatArray = np.arange(first, first + count, dtype=np.float64) * width
    return edges


def reduce_bins(times: FloatArray, values: Float32Array,
                edges: FloatArray) -> tuple[npt.NDArray[np.intp], FloatArray, Float32Array]:
    """Min/max of each column per bin between consecutive ``edges``: returns which bins (0 for
    the first) hold samples, and per such bin two points, the minimum at its first sample time
    and the maximum at its last. A bin with no finite value stays NaN (a gap, never a zero)."""
    idx = np.searchsorted(times, edges)
    filled = np.flatnonzero(idx[1:] > idx[:-1])
    starts = idx[filled]
    if not len(starts):
        return filled, times[:0], values[:0]
    stops = np.append(starts[1:], idx[-1])
    body = np.ascontiguousarray(values[: idx[-1]].T)  # metric-major: each reduction runs along memory
    low = np.fmin.reduceat(body, starts, axis=1).T
    high = np.fmax.reduceat(body, starts, axis=1).T
    t = np.empty(2 * len(starts))
    t[0::2], t[1::2] = times[starts], times[stops - 1]
    v = np.empty((2 * len(starts), values.shape[1]), dtype=values.dtype)
    v[0::2], v[1::2] = low, high
    return filled, t, v


def peak_decimate(times: FloatArray, values: Float32Array, start: float, end: float,
                  bins: int) -> tuple[FloatArray, Float32Array]:
    """At most ``2 * (bins + 1)`` points that keep every peak: per time bin, each column's
    minimum at the bin's first sample time and its maximum at the last. Bins sit on a grid
    aligned to absolute time, so a sliding window does not make the drawn shape shimmer; the
    grid's bins ``first_bin(start) .. + bins`` are used (the window rarely starts on an edge).
    Inputs of at most ``2 * bins`` rows come back as they are."""
    if bins <= 0 or len(times) <= 2 * bins or end <= start:
        return times, values
    width = bin_width(start, end, bins)
    _filled, t, v = reduce_bins(times, values, bin_edges(first_bin(start, width), bins + 2, width))
    return t, v
