"""``edgectl probe`` and ``edgectl latency`` end to end on the local device (a real daemon)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from console.cli.main import main
from console.core.app import ConsoleCore
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from console.core.models.packages import build_package
from console.core.models.store_client import StoreClient
from device_runtime.demo_model import DEMO_NAME, write_demo_model


def _run(env: ConsoleEnv, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    env.stdout, env.stderr = out, err
    code = main(list(argv), env)
    return code, out.getvalue(), err.getvalue()


def test_probe_and_latency_commands(console_env: ConsoleEnv, tmp_path: Path) -> None:
    model = Path(write_demo_model(str(tmp_path / "demo.onnx")))
    build_package(model, tmp_path / "demo.tar.gz", DEMO_NAME, "2.0.0", "tests")
    core = ConsoleCore(console_env)
    try:
        session = core.session("local")
        session.connect()
        assert StoreClient(session, "tests").deploy(tmp_path / "demo.tar.gz").result == "committed"
    finally:
        core.close()

    code, out, err = _run(console_env, "probe", "--model", DEMO_NAME, "--rate", "10", "--shape", "image:1x4x64x64")
    assert code == ExitCode.ERROR and "fixed dimension 1 of 3" in err and out == ""
    code, out, err = _run(console_env, "probe", "--model", DEMO_NAME, "--rate", "50", "--shape", "image:1x3x64x64")
    assert code == ExitCode.ERROR and "rate 50 Hz is out of range" in err
    code, out, err = _run(console_env, "probe", "--shape", "image:1x3")
    assert code == ExitCode.USAGE and "give --rate HZ (1 to 30) to turn the probe on" in err  # it is off
    code, out, _ = _run(console_env, "probe", "--model", DEMO_NAME, "--rate", "10", "--shape", "image:1x3x64x64")
    assert code == ExitCode.OK and out.startswith("Probe running: %s 2.0.0 at 10 Hz" % DEMO_NAME)
    assert "inputs image:1x3x64x64" in out

    code, out, _ = _run(console_env, "latency", "--json", "--follow", "--seconds", "6")
    assert code == ExitCode.OK
    windows = [json.loads(line) for line in out.splitlines()]
    probe = [w for w in windows if w["source"] == "probe:" + DEMO_NAME]
    # ONNX Runtime's outputs land in host memory: its model time is its total, reported once
    assert {w["stage"] for w in probe} == {"total"} and all(w["version"] == "2.0.0" for w in probe)
    code, out, _ = _run(console_env, "latency")
    assert code == ExitCode.OK and out.splitlines()[0].split()[:6] == ["SOURCE", "STAGE", "P50", "P95", "P99", "MAX"]
    assert any(line.startswith("probe:%s" % DEMO_NAME) and line.rstrip().endswith("2.0.0") for line in out.splitlines())

    code, out, _ = _run(console_env, "probe", "--json")
    status = json.loads(out)
    assert code == ExitCode.OK and status["state"] == "running" and status["count"] > 0
    code, out, _ = _run(console_env, "probe", "--off")
    assert code == ExitCode.OK and out == "Probe: off.\n"
    code, _, err = _run(console_env, "probe", "--off", "--rate", "5")
    assert code == ExitCode.USAGE and "--off cannot be combined" in err
    code, _, err = _run(console_env, "probe", "--shape", "image")
    assert code == ExitCode.USAGE and "is not NAME:DxDx..." in err
