"""Health checks and reports, the device's health settings, and the audit log's entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from device_runtime.protocol.core import Record, _record

# ---------------------------------------------------------------------------------------------
# Health: checks as data, run periodically and on demand; the deploy's health gate uses them.

HEALTH_PASS = "pass"  # noqa: S105 - a check result, not a secret
HEALTH_FAIL = "fail"
HEALTH_SKIP = "skip"  # not configured or not applicable on this device
HEALTHY = "healthy"
DEGRADED = "degraded"  # a warning check fails
UNHEALTHY = "unhealthy"  # a critical check fails


@_record
@dataclass
class HealthCheck(Record):
    name: str  # stable id, e.g. "telemetry"
    title: str  # for people, e.g. "Telemetry is fresh"
    severity: str  # SEVERITY_CRITICAL or SEVERITY_WARNING
    status: str  # HEALTH_PASS, HEALTH_FAIL or HEALTH_SKIP
    message: str  # what was found
    fix: str = ""  # what to do when it fails


@_record
@dataclass
class HealthReport(Record):
    t: float
    overall: str  # HEALTHY, DEGRADED or UNHEALTHY
    checks: List[HealthCheck] = field(default_factory=list)


@_record
@dataclass
class HealthHistory(Record):
    reports: List[HealthReport] = field(default_factory=list)


@_record
@dataclass
class HealthQuery(Record):
    seconds: float = 3600.0


@_record
@dataclass
class HealthConfig(Record):
    """What this device is expected to look like, kept on the device."""

    latency_budget_ms: Optional[float] = None  # p99 of every reported source must stay under it
    expected_power_mode: Optional[str] = None  # e.g. "MAXN" or "15W"
    expect_clocks_locked: Optional[bool] = None  # jetson_clocks on (True) or off (False)
    restart_service: Optional[str] = None  # the robot's app unit the deploy restarts, checked active
    expect_gpu: bool = True  # a device that had a GPU at start must still see it
    min_free_memory_mb: float = 300.0
    min_free_disk_mb: float = 1024.0
    max_temperature_c: float = 85.0
    max_telemetry_age_s: float = 10.0
    interval_s: float = 30.0  # periodic run


@_record
@dataclass
class AuditEntry(Record):
    t: float
    actor: str  # the OS user of the connection (from the socket's peer credentials)
    action: str  # "deploy", "rollback", "activate", "config", "cancel", ...
    detail: str  # what exactly, in words
    result: str = "ok"  # "ok" or what went wrong


@_record
@dataclass
class AuditList(Record):
    entries: List[AuditEntry] = field(default_factory=list)


@_record
@dataclass
class AuditQuery(Record):
    limit: int = 500
