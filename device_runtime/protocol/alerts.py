"""Alerts and the device's changing state (power mode, clocks, collectors)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from device_runtime.protocol.core import Record, _record

# ---------------------------------------------------------------------------------------------
# Alerts: throttling, power capping, clocks below maximum, temperatures over thresholds.

ALERT_KINDS = ("thermal_throttle", "power_cap", "clocks_below_max", "temperature")
SEVERITY_WARNING = "warning"
SEVERITY_CRITICAL = "critical"


@_record
@dataclass
class AlertEvent(Record):
    """One alert with its start and (once over) end time, in device wall time."""

    id: str  # stable across the start and end messages of one alert
    kind: str  # one of ALERT_KINDS
    severity: str  # "warning" or "critical"
    source: str  # what it is about: "gpu0", a thermal zone type, "cpu"
    message: str  # a sentence for a person: what happened and what it means
    start: float
    end: Optional[float] = None
    metric: Optional[str] = None  # the telemetry series it was detected on, when there is one
    value: Optional[float] = None  # the worst value seen while active
    threshold: Optional[float] = None


@_record
@dataclass
class AlertQuery(Record):
    since: float = 0.0  # alerts active at or after this device time


@_record
@dataclass
class AlertList(Record):
    alerts: List[AlertEvent] = field(default_factory=list)


@_record
@dataclass
class AlertThresholds(Record):
    """Per-device alert settings, kept on the device."""

    temperature_warning_c: float = 85.0
    temperature_critical_c: float = 95.0
    zone_limits_c: Dict[str, float] = field(default_factory=dict)  # zone type -> warning limit override
    clocks_below_max_pct: float = 90.0  # GPU clock under this % of its maximum while busy
    busy_load_pct: float = 50.0  # "busy" for the clocks check
    hold_s: float = 2.0  # a condition must hold this long before it starts (and clear this long to end)


@_record
@dataclass
class CollectorStatus(Record):
    name: str
    active: bool
    absent: Dict[str, str] = field(default_factory=dict)  # what it cannot read -> why


@_record
@dataclass
class DeviceState(Record):
    """What changes while the device runs: power mode, clocks, collectors."""

    power_mode: Optional[str] = None
    clocks_locked: Optional[bool] = None
    collectors: List[CollectorStatus] = field(default_factory=list)
