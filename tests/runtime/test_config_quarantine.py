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
from tests.support.daemons import stop_daemon
from tests.support.store import make_onnx

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
    assert json.loads(config.read_text()) == {"version": 1, **HealthConfig().to_wire()}  # every file says its format
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


# Per file: its place under the daemon's root, what is in it, why it cannot be used, the reset command.
Case = tuple[str, str, str, tuple[str, ...]]
ALERTS_CUT_OFF: Case = ("config/alerts.json", CUT_OFF, "not valid JSON", ("thresholds", "--reset"))
ALERTS_SURROGATE: Case = ("config/alerts.json", SURROGATE_THRESHOLDS,
                          "a key of thresholds.zone_limits_c is not valid Unicode", ("thresholds", "--reset"))
PROBE_SURROGATE: Case = ("latency/probe.json", SURROGATE_PROBE, "model is not valid Unicode", ("probe", "--off"))
PROBE_CUT_OFF: Case = ("latency/probe.json", "{probe", "not valid JSON", ("probe", "--off"))
HEALTH_CUT_OFF: Case = ("config/health.json", '{"interval_s": 30', "not valid JSON", ("health-config", "--reset"))
# Files a newer edge-runtime wrote (a robot rolled back to an older runtime): set aside, said so.
NEWER = "a newer edge-runtime wrote it (settings format %d; this one reads format 1 and older)"
HEALTH_NEWER: Case = ("config/health.json", json.dumps({"version": 2, "interval_s": 30}), NEWER % 2,
                      ("health-config", "--reset"))
ALERTS_NEWER: Case = ("config/alerts.json", json.dumps({"version": 3, "thresholds": {}}), NEWER % 3,
                      ("thresholds", "--reset"))
PROBE_BAD_VERSION: Case = ("latency/probe.json", json.dumps({"version": "1.0", "model": "", "rate_hz": 0}),
                           '"version" is "1.0"; expected a whole number from 1', ("probe", "--off"))


@pytest.mark.parametrize("cases", [
    [ALERTS_CUT_OFF, PROBE_SURROGATE],
    [ALERTS_SURROGATE, PROBE_CUT_OFF, HEALTH_CUT_OFF],
    [HEALTH_NEWER, ALERTS_NEWER, PROBE_BAD_VERSION],
], ids=["cut-off-thresholds", "surrogate-thresholds", "newer-formats"])
def test_unusable_settings_files_are_quarantined_named_and_reset(
        console_env: ConsoleEnv, tmp_path: Path, cases: list[Case]) -> None:
    root = console_env.local_root
    for name, text, _, _ in cases:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)

    code, check = _settings_check(console_env)  # starts the daemon on those files
    assert code == ExitCode.OK and check["status"] == "fail" and check["severity"] == "warning", check
    for name, text, reason, reset in cases:
        path = root / name
        assert "%s cannot be used" % path in check["message"] and "%s.bad" % path in check["message"], check
        assert reason in check["message"].split(str(path) + " cannot be used", 1)[1], check
        assert "%s: edgectl %s" % (path.name, " ".join(reset)) in check["fix"], check
        assert not path.exists() and Path(str(path) + ".bad").read_text() == text
    code, out, err = _run(console_env, "probe", "--json")  # the probe says why it is off
    assert json.loads(out)["state"] == "failed" and "probe.json.bad" in json.loads(out)["reason"], out

    code, out, err = _run(console_env, "deploy", str(make_onnx(tmp_path / "det.onnx")), "--name", "detector")
    assert code == ExitCode.OK, err  # nothing blocks a deploy

    for i, (name, text, _, reset) in enumerate(cases):
        code, out, err = _run(console_env, *reset, "--json")
        assert code == ExitCode.OK, out + err
        code, check = _settings_check(console_env)
        assert name.split("/")[1] not in check["message"], check  # that one is no longer named
        assert check["status"] == ("pass" if i == len(cases) - 1 else "fail"), check
        assert Path(str(root / name) + ".bad").read_text() == text  # what was set aside is kept
    code, out, err = _run(console_env, "thresholds", "--json")
    assert json.loads(out) == AlertThresholds().to_wire()
    assert json.loads((root / "config" / "alerts.json").read_text())["thresholds"] == AlertThresholds().to_wire()
    assert json.loads((root / "latency" / "probe.json").read_text())["rate_hz"] == 0
    for name in ("config/alerts.json", "latency/probe.json"):
        assert json.loads((root / name).read_text())["version"] == 1
    code, out, err = _run(console_env, "probe", "--json")
    assert json.loads(out)["state"] == "off", out


@pytest.mark.parametrize("text", [
    '{"restart_hook": ["systemctl", "restart", "robot-ai"',
    json.dumps({"restart_hook": ["systemctl", "restart", "robot\ud800"]}),
    json.dumps({"version": 2, "restart_hook": ["systemctl", "restart", "robot-ai"]}),
], ids=["cut-off", "surrogate", "newer-format"])
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
