"""A stored health settings file the daemon cannot use (here one written before the protocol
refused lone surrogates) is set aside with a clear health message, blocks nothing, and
``edgectl health-config --reset`` writes usable settings again."""

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


def test_unusable_health_settings_are_quarantined_and_reset(console_env: ConsoleEnv) -> None:
    config = console_env.local_root / "config" / "health.json"
    config.parent.mkdir(parents=True)
    # json.dump escapes a lone surrogate as \ud800: what an older daemon stored.
    config.write_text(json.dumps({**HealthConfig().to_wire(), "restart_service": "robot\ud800.service"}))

    code, out, err = _run(console_env, "health", "--run", "--json")
    assert code == ExitCode.OK, err  # a warning: the deploy's health gate (critical checks) is not blocked
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert checks["settings"]["status"] == "fail" and checks["settings"]["severity"] == "warning"
    message = checks["settings"]["message"]
    assert "restart_service is not valid Unicode" in message and "health.json.bad" in message
    assert "edgectl health-config --reset" in checks["settings"]["fix"]
    assert checks["service"]["status"] == "skip"  # the defaults are in use
    assert not config.exists() and "robot" in (config.parent / "health.json.bad").read_text()

    code, out, err = _run(console_env, "health-config", "--json")  # reading works: it can be repaired
    assert code == ExitCode.OK and json.loads(out) == HealthConfig().to_wire(), err
    code, _, err = _run(console_env, "health-config", "--reset", "--set", "latency_budget_ms=5")
    assert code == ExitCode.USAGE and "not both" in err
    code, out, err = _run(console_env, "health-config", "--reset", "--json")
    assert code == ExitCode.OK and json.loads(out) == HealthConfig().to_wire(), err
    assert json.loads(config.read_text()) == HealthConfig().to_wire()
    code, out, _ = _run(console_env, "health", "--run", "--json")
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert checks["settings"]["status"] == "pass"
