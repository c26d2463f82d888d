"""The timed inference loop shared by the benchmark job and ``bench/ort_harness_overhead.py``.

The loop body is only ``clock(); run(); clock(); append``: progress callbacks happen between
iterations at most every quarter second, outside the timed region, so the harness adds
nothing measurable to the latency it reports (the bench proves it against a bare loop).
"""

from __future__ import annotations

import time
from typing import Any, Callable, List, Optional, Sequence

from device_runtime.engines.latency_stats import UNSTABLE_COV_PERCENT, compute_stats
from device_runtime.protocol import LatencySummary

TICK_S = 0.25
MAX_SAMPLES_KEPT = 5000


def timed_runs(
    run: Callable[[], Any],
    warmup_s: float,
    seconds: float,
    min_iterations: int = 1,
    on_tick: Optional[Callable[[float, int], None]] = None,
    clock: Callable[[], float] = time.perf_counter,
) -> List[float]:
    """Warm up for ``warmup_s``, then time ``run`` for ``seconds`` and at least ``min_iterations``
    calls. Returns per-call latencies in ms. ``on_tick(elapsed_s, count)`` reports progress."""
    end = clock() + warmup_s
    while clock() < end:
        run()
    samples: List[float] = []
    append = samples.append
    start = clock()
    deadline = start + seconds
    next_tick = start + TICK_S
    minimum = max(1, min_iterations)
    while True:
        t0 = clock()
        run()
        t1 = clock()
        append((t1 - t0) * 1000.0)
        if t1 >= deadline and len(samples) >= minimum:
            return samples
        if on_tick is not None and t1 >= next_tick:
            on_tick(t1 - start, len(samples))
            next_tick = t1 + TICK_S


def summarize(samples_ms: Sequence[float]) -> LatencySummary:
    """LatencySummary with trtexec's percentile rule; ``cov`` is std / mean (a fraction)."""
    stats = compute_stats(samples_ms)
    cov_percent = stats.cov_percent or 0.0
    return LatencySummary(
        count=len(samples_ms),
        min=stats.min or 0.0,
        mean=stats.mean or 0.0,
        median=stats.median or 0.0,
        p90=stats.percentiles.get(90.0, 0.0),
        p95=stats.percentiles.get(95.0, 0.0),
        p99=stats.percentiles.get(99.0, 0.0),
        max=stats.max or 0.0,
        cov=cov_percent / 100.0,
        unstable=cov_percent > UNSTABLE_COV_PERCENT,
    )


def keep_samples(samples_ms: Sequence[float], limit: int = MAX_SAMPLES_KEPT) -> List[float]:
    """At most ``limit`` samples for histograms: evenly strided, so the run's shape is kept."""
    if len(samples_ms) <= limit:
        return list(samples_ms)
    step = len(samples_ms) / float(limit)
    return [samples_ms[int(i * step)] for i in range(limit)]
