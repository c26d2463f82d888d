"""HealthMonitor against a real local daemon: last report, history, live pushed reports, settings
with the console's validation in words and the device's own refusal."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from console.core.app import ConsoleCore
from console.core.devices.client import DeviceError
from console.core.env import ConsoleEnv
from console.core.health.monitor import (
    CONFIG_FIELD_BY_KEY,
    UNKNOWN,
    HealthConfigError,
    HealthMonitor,
    apply_assignments,
    critical_failures,
    format_config_value,
    overall_label,
    validate_config,
)
from device_runtime.protocol import HEALTH_FAIL, HEALTHY, UNHEALTHY, HealthConfig, HealthReport


@pytest.fixture
def core(console_env: ConsoleEnv) -> Iterator[ConsoleCore]:
    core = ConsoleCore(console_env)
    yield core
    core.close()


def test_start_reads_last_and_history_then_hears_pushed_runs(core: ConsoleCore, console_env: ConsoleEnv) -> None:
    session = core.session("local")
    session.connect()
    monitor = HealthMonitor(session)
    assert monitor.overall == UNKNOWN and overall_label(monitor.overall) == "health unknown"
    first = monitor.start()
    assert [c.name for c in first.checks][:2] == ["runtime", "telemetry"]
    assert monitor.last is not None and monitor.last.t == first.t
    assert monitor.overall in (HEALTHY, "degraded")

    heard: list[HealthReport] = []
    got = threading.Event()
    monitor.listeners.append(lambda r: (heard.append(r), got.set()))
    # Another console runs the checks: this monitor hears the pushed report.
    other = ConsoleCore(console_env)
    try:
        other_session = other.session("local")
        other_session.connect()
        pushed = HealthMonitor(other_session).run()
    finally:
        other.close()
    assert got.wait(10), "the pushed health report never arrived"
    assert heard[-1].t == pushed.t
    assert [r.t for r in monitor.history()][-1] == pushed.t
    assert monitor.history(since=pushed.t + 1) == []


def test_a_failing_critical_check_makes_the_device_unhealthy(core: ConsoleCore) -> None:
    session = core.session("local")
    session.connect()
    monitor = HealthMonitor(session)
    saved = monitor.set_config(apply_assignments(monitor.get_config(), ["restart_service=no-such-unit.service"]))
    assert saved.restart_service == "no-such-unit.service"
    report = monitor.run()
    assert report.overall == UNHEALTHY
    assert critical_failures(report) == ["Robot application running"]
    service = next(c for c in report.checks if c.name == "service")
    assert service.status == HEALTH_FAIL and "journalctl -u no-such-unit.service" in service.fix
    monitor.set_config(apply_assignments(saved, ["restart_service="]))
    assert monitor.get_config().restart_service is None


@pytest.mark.parametrize(("items", "words"), [
    (["latency_budget_ms=fast"], "Latency budget must be a number in ms, not 'fast'."),
    (["latency_budget_ms=0"], "Latency budget must be above 0 ms"),
    (["max_temperature_c=500"], "Maximum temperature must be between 20 and 120 °C (got 500)."),
    (["interval_s=1"], "Check interval must be between 5 and 3600 s (got 1)."),
    (["min_free_disk_mb=-5"], "Minimum free disk must be at least 0 MB (got -5)."),
    (["expect_clocks_locked=maybe"], "jetson_clocks expected must be on or off or empty, not 'maybe'."),
    (["expect_gpu="], "Expect a GPU cannot be empty."),
    (["restart_service=rm -rf"], "must be a systemd unit name such as robot-ai.service"),
    (["fan=3"], "Unknown health setting 'fan'. Known: latency_budget_ms,"),
    (["latency_budget_ms"], "'latency_budget_ms' is not KEY=VALUE"),
])
def test_bad_settings_are_refused_in_words(items: list[str], words: str) -> None:
    with pytest.raises(HealthConfigError) as info:
        apply_assignments(HealthConfig(), items)
    assert words in str(info.value)


def test_settings_parse_and_format_round_trip() -> None:
    cfg = apply_assignments(HealthConfig(), ["latency_budget_ms=12.5", "expected_power_mode=MAXN",
                                             "expect_clocks_locked=on", "expect_gpu=off", "interval_s=10"])
    assert (cfg.latency_budget_ms, cfg.expected_power_mode, cfg.expect_clocks_locked, cfg.expect_gpu,
            cfg.interval_s) == (12.5, "MAXN", True, False, 10.0)
    assert validate_config(cfg) == []
    assert format_config_value(CONFIG_FIELD_BY_KEY["expect_clocks_locked"], True) == "on"
    assert format_config_value(CONFIG_FIELD_BY_KEY["latency_budget_ms"], None) == ""
    cleared = apply_assignments(cfg, ["expected_power_mode=", "expect_clocks_locked="])
    assert cleared.expected_power_mode is None and cleared.expect_clocks_locked is None


def test_the_device_refuses_what_the_console_would_not_send(core: ConsoleCore) -> None:
    """The console checks first, but the device is the last word: a raw request still gets its refusal."""
    session = core.session("local")
    session.connect()
    monitor = HealthMonitor(session)
    with pytest.raises(HealthConfigError):
        monitor.set_config(HealthConfig(interval_s=1.0))
    with pytest.raises(DeviceError) as info:
        session.request("health.config.set", HealthConfig(interval_s=1.0))
    assert "interval_s must be between 5 and 3600 s" in str(info.value)
    assert monitor.get_config() == HealthConfig()  # nothing changed
