"""Read trtexec ``--exportTimes`` traces and compute the same statistics trtexec prints.

The file is a JSON list with one object per timed query (warm-up excluded), written by
``exportJSONTrace`` in ``samples/common/sampleReporting.cpp``: ``startEnqMs, endEnqMs,
startH2dMs, endH2dMs, startComputeMs, endComputeMs, startD2hMs, endD2hMs`` (timestamps, ms)
and the durations ``h2dMs, computeMs, d2hMs, latencyMs``. Percentiles use trtexec's own rule
(see :mod:`device_runtime.engines.latency_stats`), so they can be compared with its summary.
This is the preferred source for benchmark numbers; the text summary is the fallback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Union

from device_runtime.engines.latency_stats import (
    DEFAULT_PERCENTILES,
    UNSTABLE_COV_PERCENT,
    LatencyStats,
    compute_stats,
)

_REQUIRED = ("computeMs", "latencyMs")


@dataclass
class ExportTimesReport:
    query_count: int
    latency: LatencyStats
    gpu_compute_time: LatencyStats
    enqueue_time: Optional[LatencyStats] = None
    h2d_latency: Optional[LatencyStats] = None
    d2h_latency: Optional[LatencyStats] = None
    span_ms: Optional[float] = None
    throughput_qps: Optional[float] = None
    data_transfers_included: Optional[bool] = None
    warnings: List[str] = field(default_factory=list)

    @property
    def gpu_compute_unstable(self) -> bool:
        cov = self.gpu_compute_time.cov_percent
        return cov is not None and cov > UNSTABLE_COV_PERCENT

    def to_dict(self) -> Dict[str, object]:
        out: Dict[str, object] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = value.to_dict() if isinstance(value, LatencyStats) else value
        out["gpu_compute_unstable"] = self.gpu_compute_unstable
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def _column(rows: Sequence[Mapping[str, object]], key: str) -> Optional[List[float]]:
    values: List[float] = []
    for row in rows:
        value = row.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return None
        values.append(float(value))
    return values


def parse_export_times(
    source: Union[str, Sequence[Mapping[str, object]]],
    percentiles: Sequence[float] = DEFAULT_PERCENTILES,
) -> ExportTimesReport:
    """``source`` is the JSON text or the already decoded list. Raises ValueError if unusable."""
    rows = json.loads(source) if isinstance(source, str) else source
    if not isinstance(rows, list) or not rows or not all(isinstance(row, dict) for row in rows):
        raise ValueError("an --exportTimes trace is a non-empty JSON list of objects")
    for key in _REQUIRED:
        if _column(rows, key) is None:
            raise ValueError("every query needs a numeric %r" % key)
    latency = compute_stats(_column(rows, "latencyMs") or [], percentiles)
    compute = compute_stats(_column(rows, "computeMs") or [], percentiles)
    report = ExportTimesReport(query_count=len(rows), latency=latency, gpu_compute_time=compute)

    starts, ends = _column(rows, "startEnqMs"), _column(rows, "endEnqMs")
    if starts is not None and ends is not None:
        report.enqueue_time = compute_stats([ends[i] - starts[i] for i in range(len(starts))], percentiles)
    h2d, d2h = _column(rows, "h2dMs"), _column(rows, "d2hMs")
    if h2d is not None:
        report.h2d_latency = compute_stats(h2d, percentiles)
    if d2h is not None:
        report.d2h_latency = compute_stats(d2h, percentiles)
    if h2d is not None or d2h is not None:
        report.data_transfers_included = any(v > 0.0 for v in (h2d or []) + (d2h or []))

    finish = _column(rows, "endD2hMs") or _column(rows, "endComputeMs")
    if starts is not None and finish is not None:
        # trtexec's walltime runs from the first enqueue to the last completion; with the
        # trace alone this is the closest equivalent, so qps may differ slightly from its summary.
        report.span_ms = max(finish) - min(starts)
        if report.span_ms > 0:
            report.throughput_qps = report.query_count / report.span_ms * 1000.0
    if report.gpu_compute_unstable:
        report.warnings.append(
            "GPU compute time is unstable, with coefficient of variance = %.4g%%" % (compute.cov_percent or 0.0)
        )
    return report
