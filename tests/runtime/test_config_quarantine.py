"""Stored settings files the daemon cannot use (cut off, not JSON, or text with a lone surrogate
written before the protocol refused them) are set aside as NAME.bad with a health message naming
each file and the command that sets it again, block no deploy, and that command writes usable
settings; store.json, whose hooks a deploy needs, keeps deploys refused, naming the file and the fix."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from console.cli.main import main
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from device_runtime.protocol import AlertThresholds, HealthConfig
from tests.conftest import stop_daemon
from tests.store.helpers import make_onnx

CUT_OFF = '{"version": 1, "thresholds": {"hold_s": '  # a write cut short by a power loss


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


def _settings_check(env: ConsoleEnv) -> tuple[int, dict[str, Any]]:
    code, out, err = _run(env, "health", "--run", "--json")
    assert out, err
    return code, {c["name"]: c for c in json.loads(out)["checks"]}["settings"]


# json.dumps writes a lone surrogate as the escape \ud800, as a file from an older daemon holds it.
SURROGATE_THRESHOLDS = json.dumps({"version": 1, "thresholds": {"zone_limits_c": {"gpu\ud800": 70.0}}})
SURROGATE_PROBE = json.dumps({"model": "detector\ud800", "rate_hz": 5.0, "shapes": {}})


@pytest.mark.parametrize(("alerts_text", "probe_text", "alerts_reason", "probe_reason"), [
    (CUT_OFF, SURROGATE_PROBE, "not valid JSON", "model is not valid Unicode"),
    (SURROGATE_THRESHOLDS, "{probe", "zone_limits_c", "not valid JSON"),
], ids=["cut-off-thresholds", "surrogate-thresholds"])
def test_unusable_alert_and_probe_settings_are_quarantined_and_reset(
        console_env: ConsoleEnv, tmp_path: Path, alerts_text: str, probe_text: str, alerts_reason: str,
        probe_reason: str) -> None:
    root = console_env.local_root
    alerts, probe = root / "config" / "alerts.json", root / "latency" / "probe.json"
    for path, text in ((alerts, alerts_text), (probe, probe_text)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    code, check = _settings_check(console_env)
    assert code == ExitCode.OK and check["status"] == "fail" and check["severity"] == "warning", check
    message, fix = check["message"], check["fix"]
    for path, reason, text in ((alerts, alerts_reason, alerts_text), (probe, probe_reason, probe_text)):
        assert "%s cannot be used" % path in message and "%s.bad" % path in message, message
        assert reason in message.split(str(path) + " cannot be used", 1)[1], message
        assert not path.exists() and Path(str(path) + ".bad").read_text() == text
    assert "alerts.json: edgectl thresholds --reset" in fix and "probe.json: edgectl probe --off" in fix, fix
    code, out, err = _run(console_env, "probe", "--json")  # the probe says why it is off
    assert json.loads(out)["state"] == "failed" and "probe.json.bad" in json.loads(out)["reason"], out

    code, out, err = _run(console_env, "deploy", str(make_onnx(tmp_path / "det.onnx")), "--name", "detector")
    assert code == ExitCode.OK, err  # nothing blocks a deploy

    code, out, err = _run(console_env, "thresholds", "--reset", "--json")
    assert code == ExitCode.OK and json.loads(out) == AlertThresholds().to_wire(), err
    assert json.loads(alerts.read_text())["thresholds"] == AlertThresholds().to_wire()
    code, check = _settings_check(console_env)
    assert "alerts.json" not in check["message"] and "probe.json.bad" in check["message"], check
    code, out, err = _run(console_env, "probe", "--off", "--json")
    assert code == ExitCode.OK and json.loads(out)["state"] == "off", out + err
    assert json.loads(probe.read_text())["rate_hz"] == 0
    code, check = _settings_check(console_env)
    assert check["status"] == "pass", check
    assert Path(str(alerts) + ".bad").read_text() == alerts_text  # what was set aside is kept


@pytest.mark.parametrize("text", [
    '{"restart_hook": ["systemctl", "restart", "robot-ai"',
    json.dumps({"restart_hook": ["systemctl", "restart", "robot\ud800"]}),
], ids=["cut-off", "surrogate"])
def test_unusable_store_settings_refuse_deploys_naming_the_file_and_the_fix(
        console_env: ConsoleEnv, tmp_path: Path, text: str) -> None:
    model = make_onnx(tmp_path / "det.onnx")
    code, _, err = _run(console_env, "deploy", str(model), "--name", "detector")
    assert code == ExitCode.OK, err
    stop_daemon(console_env.local_socket)
    store_json = console_env.local_root / "config" / "store.json"
    store_json.write_text(text)  # the daemon starts again on it

    code, check = _settings_check(console_env)
    assert code == ExitCode.CHECK_FAILED and check["status"] == "fail" and check["severity"] == "critical", check
    assert "store settings in %s cannot be used" % store_json in check["message"], check
    assert "deploys, activations and rollbacks are refused" in check["message"]
    fix = "sudo mv %s %s.bad" % (store_json, store_json)
    assert fix in check["fix"] and "python3 -m json.tool %s" % store_json in check["fix"], check

    code, _, err = _run(console_env, "deploy", str(make_onnx(tmp_path / "det2.onnx", seed=1)), "--name", "detector")
    assert code == ExitCode.ERROR and str(store_json) in err and fix in err, err
    assert store_json.read_text() == text  # refused, never replaced behind the operator's back

    os.replace(store_json, str(store_json) + ".bad")  # the fix the message names
    code, _, err = _run(console_env, "deploy", str(make_onnx(tmp_path / "det2.onnx", seed=1)), "--name", "detector")
    assert code == ExitCode.OK, err
    code, check = _settings_check(console_env)
    assert check["status"] == "pass", check
