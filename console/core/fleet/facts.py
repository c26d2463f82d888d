"""What ``edgectl fleet status`` shows of one device: the facts a lab checks before and after a rollout."""

from __future__ import annotations

from typing import Any

from console.core.devices.session import DeviceSession
from console.core.fleet.runner import DeviceFailed
from device_runtime.protocol import (
    ALERTS_LIST,
    HEALTH_LAST,
    HEALTH_RUN,
    STORE_MODELS,
    UNHEALTHY,
    AlertQuery,
    Empty,
)

TEMPERATURE_UNIT = "°C"
BACKFILL_S = 30.0  # the newest readings the daemon still holds; no wait for a fresh sample


def device_facts(session: DeviceSession) -> dict[str, Any]:
    """Connect and read: board, JetPack, runtime version, each model's active version, the last health
    word, the hottest temperature the daemon read lately, and the open alerts."""
    caps = session.connect()
    listing = session.call(STORE_MODELS, Empty())
    health = session.call(HEALTH_LAST, Empty())
    alerts = session.call(ALERTS_LIST, AlertQuery())
    sensor, hottest = hottest_reading(session)
    open_alerts = [a for a in alerts.alerts if a.end is None]
    return {
        "state": session.state.value,
        "board": caps.board or caps.board_model,
        "jetpack": caps.jetpack,
        "runtime": session.runtime_version,
        "models": {m.name: m.active for m in listing.models},
        "health": health.overall,
        "failing_checks": [c.title for c in health.checks if c.status == "fail"],
        "hottest_c": None if hottest is None else round(hottest, 1),
        "hottest_sensor": sensor,
        "open_alerts": len(open_alerts),
        "alerts": [a.message for a in open_alerts],
    }


def hottest_reading(session: DeviceSession) -> tuple[str | None, float | None]:
    """The hottest sensor among the daemon's recent samples, by the metric table's unit (no name rules);
    (None, None) on a device with no readable sensor or no sample yet."""
    table = session.start_telemetry(1.0, backfill_s=BACKFILL_S)
    try:
        store = session.store
        readings = {m.name: store.latest(m.name) for m in table.metrics if m.unit == TEMPERATURE_UNIT} if store else {}
    finally:
        session.stop_telemetry()
    known = {name: value for name, value in readings.items() if value is not None}
    if not known:
        return None, None
    name = max(known, key=lambda n: known[n])
    return name, known[name]


def run_health(session: DeviceSession) -> dict[str, Any]:
    """Run the device's health checks now; an unhealthy device fails, naming its failing checks and fixes."""
    session.connect()
    report = session.call(HEALTH_RUN, Empty(), timeout=120.0)
    failing = [c for c in report.checks if c.status == "fail"]
    detail = {"health": report.overall, "failing_checks": ["%s: %s" % (c.title, c.message) for c in failing]}
    if report.overall == UNHEALTHY:
        raise DeviceFailed("unhealthy: %s" % "; ".join(
            "%s: %s%s" % (c.title, c.message, " (fix: %s)" % c.fix if c.fix else "") for c in failing
            if c.severity == "critical"), detail)
    return detail
