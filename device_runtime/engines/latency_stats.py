"""Latency statistics: one record type for trtexec summaries and for our own raw timings.

Percentiles over raw samples follow trtexec's own rule (``findPercentile`` in
``samples/common/sampleReporting.cpp``): on the ascending samples, take index
``max(n - 1 - floor((1 - p/100) * n), 0)``. That is a nearest-rank style estimate with no
interpolation, so a value we compute from an ``--exportTimes`` trace matches the one trtexec
printed for the same run. The median is the mean of the two middle samples for even counts,
and CoV is the population standard deviation over the mean, in percent, as trtexec reports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

DEFAULT_PERCENTILES = (90.0, 95.0, 99.0)

# trtexec warns "GPU compute time is unstable" above this coefficient of variation (percent).
UNSTABLE_COV_PERCENT = 2.5


@dataclass
class LatencyStats:
    """Milliseconds. Fields trtexec did not print for this metric stay None / empty."""

    min: Optional[float] = None
    max: Optional[float] = None
    mean: Optional[float] = None
    median: Optional[float] = None
    percentiles: Dict[float, float] = field(default_factory=dict)
    cov_percent: Optional[float] = None
    count: Optional[int] = None

    def percentile(self, percent: float) -> Optional[float]:
        return self.percentiles.get(float(percent))

    def to_dict(self) -> Dict[str, object]:
        return {
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "median": self.median,
            "percentiles": {_percent_key(p): v for p, v in sorted(self.percentiles.items())},
            "cov_percent": self.cov_percent,
            "count": self.count,
        }


def _percent_key(percent: float) -> str:
    return ("%g" % percent)


def trtexec_percentile(ascending: Sequence[float], percent: float) -> float:
    """trtexec's percentile of already sorted samples (see module docstring)."""
    if not ascending:
        raise ValueError("no samples")
    if not 0.0 <= percent <= 100.0:
        raise ValueError("percentile %r is not in [0, 100]" % percent)
    count = len(ascending)
    exclude = int((1.0 - percent / 100.0) * count)
    return ascending[max(count - 1 - exclude, 0)]


def median(ascending: Sequence[float]) -> float:
    count = len(ascending)
    if count == 0:
        raise ValueError("no samples")
    middle = count // 2
    if count % 2:
        return ascending[middle]
    return (ascending[middle - 1] + ascending[middle]) / 2.0


def coefficient_of_variation(samples: Sequence[float], mean: float) -> Optional[float]:
    """Population standard deviation / mean * 100; None when the mean is zero."""
    if not samples or mean == 0.0:
        return None
    variance = sum((value - mean) ** 2 for value in samples) / len(samples)
    return math.sqrt(variance) / mean * 100.0


def compute_stats(samples: Sequence[float], percentiles: Sequence[float] = DEFAULT_PERCENTILES) -> LatencyStats:
    """Statistics of raw per-query samples in milliseconds."""
    ascending: List[float] = sorted(float(value) for value in samples)
    if not ascending:
        raise ValueError("no samples")
    mean = sum(ascending) / len(ascending)
    return LatencyStats(
        min=ascending[0],
        max=ascending[-1],
        mean=mean,
        median=median(ascending),
        percentiles={float(p): trtexec_percentile(ascending, p) for p in percentiles},
        cov_percent=coefficient_of_variation(ascending, mean),
        count=len(ascending),
    )
