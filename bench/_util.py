"""Helpers shared by the benchmark scripts (not product code)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(pct / 100.0 * (len(ordered) - 1))))
    return ordered[rank]


def summary_ms(values: Sequence[float]) -> str:
    ms = [v * 1000 for v in values]
    return "n=%d p50=%.3f ms p99=%.3f ms max=%.3f ms mean=%.3f ms" % (
        len(ms), percentile(ms, 50), percentile(ms, 99), max(ms), statistics.fmean(ms))


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"
