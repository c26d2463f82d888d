"""Inference latency windows, from the robot's own process and from the latency probe."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from device_runtime.protocol.core import Record, _record

# ---------------------------------------------------------------------------------------------
# Inference latency: from the robot's own process (LatencyReporter) and from the latency probe.

LATENCY_STAGES = ("total", "preprocess", "infer", "postprocess")


@_record
@dataclass
class LatencyWindow(Record):
    """Latency statistics of one source and stage over the sliding window ending at ``t``."""

    source: str  # the model name the reporter gave, or "probe:<model>"
    stage: str  # one of LATENCY_STAGES
    t: float  # device wall time of the window's end
    window_s: float
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    rate_hz: float  # inferences per second over the window
    version: Optional[str] = None  # the model's active version when known


@_record
@dataclass
class LatencyWindows(Record):
    windows: List[LatencyWindow] = field(default_factory=list)


@_record
@dataclass
class LatencyQuery(Record):
    seconds: float = 900.0  # how far back
