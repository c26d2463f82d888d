"""Telemetry: the series a device declares, the subscription to its samples and the samples."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from device_runtime.protocol.core import Record, _record

# Telemetry series and samples

GAUGE = "gauge"
COUNTER = "counter"


@_record
@dataclass
class MetricSpec(Record):
    """One telemetry series, declared by its collector. The console builds charts, axes,
    units and CSV headers from these, never from strings in widgets."""

    name: str  # stable id, e.g. "cpu.core.3.load"
    label: str  # series label inside its chart, e.g. "core 3"
    unit: str  # "%", "MB", "°C", "B/s", "mW", "MHz"
    group: str  # dashboard section, e.g. "CPU"
    chart: str  # chart title inside the group, e.g. "Load per core"
    kind: str = GAUGE
    min: Optional[float] = None
    max: Optional[float] = None
    description: str = ""
    integer: bool = False  # counts and codes: shown without decimals
    labels: Dict[str, str] = field(default_factory=dict)  # codes that stand for a name ("2" -> "15W"): a mode


@_record
@dataclass
class SubscribeTelemetry(Record):
    """Start (or change the rate of) this client's telemetry stream."""

    rate_hz: float = 2.0
    backfill_s: float = 0.0


@_record
@dataclass
class TelemetryTable(Record):
    metrics: List[MetricSpec]
    rate_hz: float = 2.0


@_record
@dataclass
class Sample(Record):
    """One telemetry sample: device wall time, sequence number and values by metric name.
    A metric missing from ``values`` was not available this time (never a fake zero)."""

    t: float
    seq: int
    values: Dict[str, float]


MIN_RATE_HZ = 1.0
MAX_RATE_HZ = 20.0
DEFAULT_RATE_HZ = 2.0

TOPIC_SAMPLE = "telemetry.sample"
