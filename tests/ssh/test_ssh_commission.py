"""``edgectl commission`` on an SSH device: a real sshd, the runtime started through it, the demo
model deployed as two signed versions, golden cases computed on this computer and sent to the
device over SFTP, a real benchmark load, the latency probe's live readings, a real rollback drill,
and the JSON and HTML reports per robot serial number with pass or fail per step and the reasons."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from console.core.commissioning.checklist import FAIL, PASS, SKIP
from console.core.commissioning.report import read_report
from console.core.exit_codes import ExitCode
from device_runtime.demo_model import DEMO_NAME, INPUT_SHAPE, build_demo_model
from tests.support.ssh import SshWorld
from tests.support.ssh_flows import _destination, _run, _use_client_key


def _demo_versions(world: SshWorld, tmp: Path) -> Path:
    """Deploy two signed versions of the demo model (other weights each) over SSH; returns the
    active one's ONNX file (this computer's copy)."""
    env, dest = world.env, _destination(world)
    assert _run(env, "keys", "new", "lab")[0] == ExitCode.OK
    code, public, err = _run(env, "keys", "export", "lab")
    assert code == ExitCode.OK, err
    code, _, err = _run(env, "--device", dest, "keys", "trust", public.strip())
    assert code == ExitCode.OK, err
    tmp.mkdir(parents=True, exist_ok=True)
    model = tmp
    for seed, version in ((7, "1.0.0"), (8, "2.0.0")):
        model = tmp / ("demo-%s.onnx" % version)
        onnx.save(build_demo_model(seed), str(model))
        code, out, err = _run(env, "--device", dest, "deploy", str(model), "--name", DEMO_NAME, "--version", version,
                              "--key", "lab", "--json")
        assert code == ExitCode.OK, out + err
        assert json.loads(out)["result"] == "committed"
    return model


def _golden(model: Path, folder: Path, wrong: bool = False) -> Path:
    """Two single-image cases run with ONNX Runtime here; ``wrong`` shifts the second's logits."""
    folder.mkdir(parents=True, exist_ok=True)
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(3)
    for number, name in enumerate(("dock", "field")):
        image = rng.random(INPUT_SHAPE, dtype=np.float32)
        logits = session.run(None, {"image": image})[0]
        np.savez(folder / ("%s.npz" % name), image=image)
        np.savez(folder / ("%s.expected.npz" % name), logits=logits + (0.5 if wrong and number else 0.0))
    return folder


def _report(reports: Path, serial: str) -> tuple[dict[str, object], dict[str, tuple[str, str]], str]:
    (json_path,) = (reports / serial).glob("commissioning-*.json")
    (html_path,) = (reports / serial).glob("commissioning-*.html")
    assert json_path.stem == html_path.stem
    raw = json.loads(json_path.read_text())
    steps = {s.key: (s.status, s.reason) for s in read_report(json_path).steps}
    return raw, steps, html_path.read_text()


def test_commissioning_over_ssh_saves_a_report_per_serial(ssh_world: SshWorld, short_tmp: Path) -> None:
    _use_client_key(ssh_world)
    ssh_world.trust(ssh_world.servers[0])
    env, dest = ssh_world.env, _destination(ssh_world)
    model = _demo_versions(ssh_world, short_tmp / "laptop")
    assert _run(env, "--device", dest, "health-config", "--set", "latency_budget_ms=200")[0] == ExitCode.OK
    code, _, err = _run(env, "--device", dest, "probe", "--model", DEMO_NAME, "--rate", "5",
                     "--shape", "image:1x3x64x64")
    assert code == ExitCode.OK, err

    reports = short_tmp / "reports"
    code, out, err = _run(env, "--device", dest, "commission", "--serial", "SSH-RB 01", "--golden",
                          str(_golden(model, short_tmp / "golden")), "--load-seconds", "5", "-o", str(reports))
    raw, steps, page = _report(reports, "SSH-RB_01")
    assert code == ExitCode.OK, out + err + json.dumps(raw, indent=1)
    assert raw["serial"] == "SSH-RB 01" and raw["device"] == dest and raw["overall"] == "passed"
    facts = raw["facts"]
    assert isinstance(facts, dict) and facts["model"] == DEMO_NAME and "onnxruntime" in facts["backends"]
    assert steps["runtime"][0] == PASS and "backends: onnxruntime" in steps["runtime"][1]
    assert steps["power"][0] == SKIP and "no expected power mode" in steps["power"][1]
    thermal_status, thermal_reason = steps["thermal"]
    if thermal_status == PASS:  # a computer with readable sensors
        assert "hottest" in thermal_reason and "no throttling" in thermal_reason
    else:
        assert thermal_status == SKIP and "no temperature sensor is readable" in thermal_reason, thermal_reason
    assert steps["smoke"] == (PASS, "%s matches the expected outputs on all 2 golden case(s)" % DEMO_NAME)
    # The probe's live readings are what the latency step judges.
    assert steps["latency"] == (PASS, "reported p99 within the 200.00 ms budget for probe:%s" % DEMO_NAME)
    assert steps["rollback"] == (PASS, "rolled %s back from 2.0.0 to 1.0.0 and forward again; healthy after each"
                                 % DEMO_NAME)
    assert "[6/6] Rollback drill" in out and "commissioning of robot SSH-RB 01: PASSED (4 passed" in out
    assert "SSH-RB 01" in page and "PASSED" in page and "Rollback drill" in page and "<script" not in page
    code, out, _ = _run(env, "--device", dest, "versions", DEMO_NAME, "--json")
    assert json.loads(out)["active"] == "2.0.0"  # the drill went forward again

    # A robot whose model gives other outputs: the smoke test fails and says which case, in both files.
    code, out, err = _run(env, "--device", dest, "commission", "--serial", "SSH-RB-02", "--golden",
                          str(_golden(model, short_tmp / "wrong", wrong=True)), "--load-seconds", "5",
                          "--no-rollback-drill", "-o", str(reports))
    assert code == ExitCode.CHECK_FAILED, out + err
    raw, steps, page = _report(reports, "SSH-RB-02")
    assert raw["overall"] == "failed"
    reason = "1 of 2 golden case(s) differ from the expected outputs beyond the tolerances: field"
    assert steps["smoke"] == (FAIL, reason)
    assert steps["rollback"] == (SKIP, "left out by the operator")
    assert "case field, output logits: max abs error 0.5" in out
    assert reason in page and "FAIL" in page and "SKIPPED" in page
    assert sorted(p.name for p in reports.iterdir()) == ["SSH-RB-02", "SSH-RB_01"]
