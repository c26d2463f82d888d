"""``edgectl health`` and ``edgectl health-config`` end to end on the real local device."""

from __future__ import annotations

import io
import json

from console.cli.main import main
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from device_runtime.protocol import HealthConfig


def _run(env: ConsoleEnv, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    env.stdout, env.stderr = out, err
    code = main(list(argv), env)
    return code, out.getvalue(), err.getvalue()


def test_health_prints_each_check_and_exits_by_critical_failures(console_env: ConsoleEnv) -> None:
    code, out, err = _run(console_env, "health")
    assert code == ExitCode.OK, err
    lines = out.splitlines()
    assert lines[0].startswith("This computer: HEALTHY (checked ") or lines[0].startswith("This computer: DEGRADED")
    assert any(line.startswith("PASS  critical  Runtime is up") for line in lines)
    skipped = next(i for i, line in enumerate(lines) if line.startswith("SKIP  critical  Robot application running"))
    assert "to turn it on: name the robot application's systemd unit" in lines[skipped + 1]
    assert "edgectl health-config --set restart_service=" in lines[skipped + 1]

    code, out, err = _run(console_env, "health-config", "--set", "restart_service=no-such-unit.service")
    assert code == ExitCode.OK, err
    assert "no-such-unit.service" in out
    code, out, err = _run(console_env, "health", "--run")
    assert code == ExitCode.CHECK_FAILED
    assert "This computer: UNHEALTHY" in out
    fail = next(line for line in out.splitlines() if "Robot application running" in line)
    assert fail.startswith("FAIL  critical") and "no-such-unit.service is" in fail
    assert "how to fix: see journalctl -u no-such-unit.service" in out
    assert out.rstrip().endswith("critical checks failing: Robot application running")

    code, out, _ = _run(console_env, "health", "--json")
    report = json.loads(out)
    assert code == ExitCode.CHECK_FAILED and report["overall"] == "unhealthy"
    assert {c["name"]: c["status"] for c in report["checks"]}["service"] == "fail"

    code, _, err = _run(console_env, "health-config", "--set", "restart_service=")
    assert code == ExitCode.OK, err
    code, _, _ = _run(console_env, "health", "--run")
    assert code == ExitCode.OK


def test_health_config_refuses_bad_input_and_changes_nothing(console_env: ConsoleEnv) -> None:
    code, out, _ = _run(console_env, "health-config", "--json")
    assert code == ExitCode.OK and json.loads(out) == HealthConfig().to_wire()
    code, out, _ = _run(console_env, "health-config")
    assert "latency_budget_ms      (not set)" in out and "max_temperature_c      85 °C" in out
    for bad, words in ((["max_temperature_c=500"], "Maximum temperature must be between 20 and 120 °C (got 500)"),
                       (["latency_budget_ms=soon"], "Latency budget must be a number in ms, not 'soon'"),
                       (["fan=2"], "Unknown health setting 'fan'")):
        code, _, err = _run(console_env, "health-config", "--set", *bad)
        assert code == ExitCode.USAGE and words in err and "Nothing was changed" in err
    code, out, _ = _run(console_env, "health-config", "--json")
    assert json.loads(out) == HealthConfig().to_wire()
    code, out, err = _run(console_env, "health-config", "--set", "latency_budget_ms=20", "expected_power_mode=MAXN",
                          "expect_clocks_locked=off", "--json")
    assert code == ExitCode.OK, err
    saved = json.loads(out)
    assert (saved["latency_budget_ms"], saved["expected_power_mode"], saved["expect_clocks_locked"]) == (
        20.0, "MAXN", False)
    code, out, _ = _run(console_env, "health", "--run", "--json")
    clocks = {c["name"]: c for c in json.loads(out)["checks"]}["clocks"]
    assert clocks["status"] == "fail" and "expected MAXN" in clocks["message"]
    assert code == ExitCode.OK  # a warning check: degraded, not unhealthy
