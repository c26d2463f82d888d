"""One model stored with no active version never blocks the device (issue: a failed first deploy, or an
import-only of a new name, made every later deploy and rollback of every model fail its health gate)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from console.cli.main import ExitCode
from console.core.env import ConsoleEnv
from tests.support.store import edgectl, make_onnx
from tests.zoo import BY_NAME


def test_failed_first_deploy_and_import_only_do_not_block_other_models(console_env: ConsoleEnv,
                                                                      tmp_path: Path) -> None:
    # A: a real model whose warm-up fails on its first deploy (Silero VAD: its If node rejects a sample
    # rate of 1, the least integer the warm-up may feed without a sample)
    code, _out, err = edgectl(console_env, "deploy", str(BY_NAME["silero-vad"].path()), "--name", "model-a",
                              "--shape", "input:1x512", "--shape", "state:2x1x128")
    assert code == ExitCode.ERROR
    assert "does not load" in err and "sr int64[] = 1" in err and "--sample" in err
    code, out, _ = edgectl(console_env, "versions", "model-a", "--json")
    assert json.loads(out)["active"] is None
    # B: a new name, stored only
    model_b = make_onnx(tmp_path / "b.onnx", seed=1)
    code, out, err = edgectl(console_env, "deploy", str(model_b), "--name", "model-b", "--import-only")
    assert code == ExitCode.OK, err
    # C: deploy, rollback and redeploy all succeed, without waiting out a health grace period
    model_c = make_onnx(tmp_path / "c.onnx", seed=2)
    started = time.monotonic()
    for argv in (("deploy", str(model_c), "--name", "model-c"),
                 ("deploy", str(make_onnx(tmp_path / "c2.onnx", seed=3)), "--name", "model-c"),
                 ("rollback", "model-c"),
                 ("deploy", str(model_c), "--name", "model-c", "--version", "1.0.2")):
        code, out, err = edgectl(console_env, *argv)
        assert code == ExitCode.OK, (argv, out, err)
        assert "is active and committed" in out
    assert time.monotonic() - started < 25.0  # the old gate waited the 30 s grace, then rolled back
    code, out, _ = edgectl(console_env, "versions", "model-c", "--json")
    assert json.loads(out)["active"] == "1.0.2"
    code, out, _ = edgectl(console_env, "health", "--json")
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert checks["model"]["status"] == "pass"
    assert checks["model"]["message"] == "model-c 1.0.2; stored, not active: model-a, model-b"
