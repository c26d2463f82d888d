"""Health checks as data: each check on snapshots that pass, fail and do not apply."""

from __future__ import annotations

import os
import pwd
from typing import Any

import pytest

from device_runtime import protocol as p
from device_runtime.health.checks import CHECKS, Snapshot, overall, run_checks


def snap(**over: Any) -> Snapshot:
    base: dict[str, Any] = dict(
        now=1000.0, config=p.HealthConfig(), runtime_version="0.1.0", started=900.0, last_sample_t=999.5,
        values={"mem.used": 2000.0, "temp.cpu": 50.0, "gpu.0.util": 10.0}, memory_total_mb=8000.0,
        had_gpu=True, disk_free_mb=5000.0, alerts=[], latency=[], state=p.DeviceState(), models={},
        service_state=None,
    )
    base.update(over)
    return Snapshot(**base)


def by_name(s: Snapshot) -> dict[str, p.HealthCheck]:
    return {c.name: c for c in run_checks(s)}


def test_a_quiet_device_is_healthy_and_unconfigured_checks_say_skip() -> None:
    checks = by_name(snap())
    assert overall(list(checks.values())) == p.HEALTHY
    assert {n for n, c in checks.items() if c.status == p.HEALTH_SKIP} == {"model", "service", "latency", "clocks"}
    assert all(c.fix == "" for c in checks.values() if c.status == p.HEALTH_PASS)
    # Each skip that a setting or an action would turn on says which; missing hardware has nothing to say.
    assert "latency_budget_ms=" in checks["latency"].fix and "restart_service=" in checks["service"].fix
    assert "expected_power_mode=" in checks["clocks"].fix and "deploy" in checks["model"].fix
    assert by_name(snap(values={}, had_gpu=False))["gpu"].fix == ""
    budgeted = by_name(snap(config=p.HealthConfig(latency_budget_ms=20.0)))["latency"]
    assert budgeted.status == p.HEALTH_SKIP and "probe" in budgeted.fix and "LatencyReporter" in budgeted.fix
    assert len(CHECKS) == len(checks)
    # Durations as the console spells them.
    assert checks["runtime"].message == "edge-runtime 0.1.0, up 1m40s"
    assert checks["telemetry"].message == "last sample 0.5s ago"
    assert by_name(snap(last_sample_t=900.0))["telemetry"].message == "the last sample is 1m40s old (limit 10s)"


@pytest.mark.parametrize(
    ("over", "name", "severity", "words"),
    [
        ({"last_sample_t": 900.0}, "telemetry", p.SEVERITY_CRITICAL, "old"),
        ({"last_sample_t": None}, "telemetry", p.SEVERITY_CRITICAL, "no telemetry"),
        ({"values": {"mem.used": 7900.0, "gpu.0.util": 1.0}}, "memory", p.SEVERITY_WARNING, "100 MB free"),
        ({"disk_free_mb": 100.0}, "disk", p.SEVERITY_WARNING, "100 MB free"),
        ({"values": {"temp.gpu": 91.0, "gpu.0.util": 1.0}}, "temperature", p.SEVERITY_WARNING, "temp.gpu at 91.0"),
        ({"values": {}}, "gpu", p.SEVERITY_CRITICAL, "no longer answers"),
        ({"config": p.HealthConfig(restart_service="robot-ai.service"), "service_state": "failed"},
         "service", p.SEVERITY_CRITICAL, "robot-ai.service is failed"),
        ({"alerts": [p.AlertEvent("a1", "power_cap", "warning", "gpu0", "software power cap", 990.0)]},
         "throttling", p.SEVERITY_WARNING, "software power cap"),
        ({"config": p.HealthConfig(latency_budget_ms=20.0),
          "latency": [p.LatencyWindow("detector", "total", 999.0, 10, 100, 15, 18, 25, 30, 10)]},
         "latency", p.SEVERITY_WARNING, "detector p99 25.00 ms over the 20.00 ms budget"),
        ({"config": p.HealthConfig(expected_power_mode="MAXN", expect_clocks_locked=True),
          "state": p.DeviceState(power_mode="15W", clocks_locked=False)},
         "clocks", p.SEVERITY_WARNING, "power mode is 15W, expected MAXN; jetson_clocks is off, expected on"),
    ],
)
def test_each_failure_names_what_it_found_and_how_to_fix_it(over: dict[str, Any], name: str, severity: str,
                                                            words: str) -> None:
    checks = by_name(snap(**over))
    check = checks[name]
    assert check.status == p.HEALTH_FAIL and check.severity == severity
    assert words in check.message and check.fix
    expected = p.UNHEALTHY if severity == p.SEVERITY_CRITICAL else p.DEGRADED
    assert overall(list(checks.values())) == expected


def test_latency_and_clock_checks_pass_when_within_expectations() -> None:
    checks = by_name(snap(
        config=p.HealthConfig(latency_budget_ms=20.0, expected_power_mode="maxn", expect_clocks_locked=True),
        latency=[p.LatencyWindow("detector", "total", 999.0, 10, 100, 5, 8, 9, 12, 10),
                 p.LatencyWindow("detector", "infer", 999.0, 10, 100, 50, 80, 90, 95, 10)],  # stages do not count
        state=p.DeviceState(power_mode="MAXN", clocks_locked=True),
    ))
    assert checks["latency"].status == p.HEALTH_PASS and "p99 9.00 ms" in checks["latency"].message
    assert checks["clocks"].status == p.HEALTH_PASS


def test_a_device_without_gpu_skips_the_gpu_check() -> None:
    assert by_name(snap(values={}, had_gpu=False))["gpu"].status == p.HEALTH_SKIP


def test_a_broken_check_is_reported_not_raised() -> None:
    def broken(_: Snapshot) -> p.HealthCheck:
        raise KeyError("boom")

    (check,) = run_checks(snap(), [broken])
    assert check.status == p.HEALTH_FAIL and "the check itself failed" in check.message


def test_current_user_is_known() -> None:  # the audit trail names real accounts
    assert pwd.getpwuid(os.getuid()).pw_name


def test_a_stored_inactive_model_is_information_never_a_failure() -> None:
    from device_runtime.health.checks import model_gate

    mixed = snap(models={"detector": "1.0.0", "vad": None})
    check = by_name(mixed)["model"]
    assert check.status == p.HEALTH_PASS and check.message == "detector 1.0.0; stored, not active: vad"
    alone = by_name(snap(models={"vad": None}))["model"]
    assert alone.status == p.HEALTH_SKIP and "stored, not active: vad" in alone.message
    assert "edgectl remove" in alone.fix
    assert model_gate(mixed, "detector") is None
    assert model_gate(mixed, "vad") == "vad has no active version after the switch"
