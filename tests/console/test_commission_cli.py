"""``edgectl commission`` end to end on the real local device: real ONNX models deployed through
the store, golden cases run by the device's accuracy job, a real benchmark load, a real rollback
drill, and the JSON and HTML report per serial number."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort

from console.cli.main import main
from console.core.app import ConsoleCore
from console.core.commissioning.checklist import FAIL, PASS, SKIP
from console.core.commissioning.report import read_report
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from console.core.models.packages import build_package
from console.core.models.store_client import StoreClient
from device_runtime.capabilities import read_serial
from device_runtime.server.bridge import start_daemon
from tests.support.store import make_package
from tests.zoo import BY_NAME

BOARDS = Path(__file__).resolve().parents[1] / "fixtures" / "boards"


def _run(env: ConsoleEnv, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    env.stdout, env.stderr = out, err
    code = main(list(argv), env)
    return code, out.getvalue(), err.getvalue()


def deploy(env: ConsoleEnv, tmp: Path, versions: list[str], name: str = "det") -> Path:
    """Deploy unsigned packages (the local device allows them); returns the last version's ONNX."""
    core = ConsoleCore(env)
    try:
        session = core.session("local")
        session.connect()
        store = StoreClient(session, who="tests")
        for seed, version in enumerate(versions):
            action = store.deploy(make_package(tmp, name, version, signed=False, seed=seed))
            assert action.result == "committed", action.message
    finally:
        core.close()
    return tmp / ("%s-%s-%d.onnx" % (name, versions[-1], len(versions) - 1))


def golden(model: Path, folder: Path, wrong: bool = False) -> Path:
    """Two cases computed with ONNX Runtime on this computer; ``wrong`` shifts the second one."""
    folder.mkdir(parents=True, exist_ok=True)
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(7).standard_normal((3, 8)).astype(np.float32)
    y = session.run(None, {"x": x})[0]
    np.savez(folder / "batch3.npz", x=x)
    np.savez(folder / "batch3.expected.npz", y=y)
    np.save(folder / "single.npy", x[:1])
    np.save(folder / "single.expected.npy", y[:1] + (0.5 if wrong else 0.0))
    return folder


def _steps(report_dir: Path, serial: str) -> dict[str, tuple[str, str]]:
    (json_path,) = (report_dir / serial).glob("commissioning-*.json")
    report = read_report(json_path)
    return {s.key: (s.status, s.reason) for s in report.steps}


def test_a_full_commissioning_passes_and_is_saved_per_serial(console_env: ConsoleEnv, tmp_path: Path) -> None:
    model = deploy(console_env, tmp_path, ["1.0.0", "2.0.0"])
    cases = golden(model, tmp_path / "golden")
    assert _run(console_env, "health-config", "--set", "latency_budget_ms=50")[0] == ExitCode.OK
    reports = tmp_path / "reports"
    code, out, err = _run(console_env, "commission", "--serial", "RB-0042 <lab>", "--golden", str(cases),
                          "--load-seconds", "5", "-o", str(reports))
    steps = _steps(reports, "RB-0042__lab")
    assert code == ExitCode.OK, out + err
    assert steps["runtime"][0] == PASS and "backends: onnxruntime" in steps["runtime"][1]
    assert steps["power"] == (SKIP, steps["power"][1]) and "no expected power mode" in steps["power"][1]
    thermal_status, thermal_reason = steps["thermal"]
    if thermal_status == PASS:  # a computer with readable sensors
        assert "hottest" in thermal_reason and "no throttling" in thermal_reason
    else:
        assert thermal_status == SKIP and "no temperature sensor is readable" in thermal_reason
    assert steps["smoke"] == (PASS, "det matches the expected outputs on all 2 golden case(s)")
    assert steps["latency"][0] == PASS and "within the 50.00 ms budget" in steps["latency"][1]
    assert steps["rollback"] == (PASS, "rolled det back from 2.0.0 to 1.0.0 and forward again; healthy after each")
    assert "[6/6] Rollback drill" in out and "commissioning of robot RB-0042 <lab>: PASSED" in out

    (html_path,) = (reports / "RB-0042__lab").glob("commissioning-*.html")
    page = html_path.read_text()
    assert "RB-0042 &lt;lab&gt;" in page and "<lab>" not in page
    assert "http" not in page.replace("http-equiv", "") and "<script" not in page and "<link" not in page
    code, out, _ = _run(console_env, "versions", "det", "--json")
    assert json.loads(out)["active"] == "2.0.0"  # the drill went forward again
    code, out, _ = _run(console_env, "audit", "--json")
    actions = [json.loads(line)["action"] for line in out.splitlines()]
    assert "rollback" in actions and "activate" in actions


def test_failures_and_skips_say_why(console_env: ConsoleEnv, tmp_path: Path) -> None:
    model = deploy(console_env, tmp_path, ["1.0.0"])
    cases = golden(model, tmp_path / "golden", wrong=True)
    reports = tmp_path / "reports"
    code, out, _ = _run(console_env, "commission", "--serial", "RB-7", "--golden", str(cases),
                        "--load-seconds", "5", "-o", str(reports))
    assert code == ExitCode.CHECK_FAILED
    steps = _steps(reports, "RB-7")
    assert steps["smoke"] == (FAIL, "1 of 2 golden case(s) differ from the expected outputs beyond the tolerances: "
                                    "single")
    assert "case single, output y: max abs error 0.5" in out
    assert steps["latency"][0] == SKIP and "latency_budget_ms" in steps["latency"][1]
    assert steps["rollback"] == (SKIP, "det has no previous version on the device (active: 1.0.0): deploy a second "
                                       "version to drill a rollback")
    assert "commissioning of robot RB-7: FAILED (" in out and "1 failed" in out


def test_thermals_fail_on_a_hot_board(console_env: ConsoleEnv, tmp_path: Path) -> None:
    """The Orin NX fixture's zones read 86-91 °C: over the 85 °C default limit."""
    start_daemon(str(console_env.local_socket), str(console_env.local_root),
                 ["--demo", "--rate", "10", "--sys-root", str(BOARDS / "orin-nx-16gb" / "sys")])
    deploy(console_env, tmp_path, ["1.0.0"])
    reports = tmp_path / "reports"
    code, out, _ = _run(console_env, "commission", "--serial", "ORIN-1", "--load-seconds", "5",
                        "--no-rollback-drill", "-o", str(reports))
    assert code == ExitCode.CHECK_FAILED
    steps = _steps(reports, "ORIN-1")
    status, reason = steps["thermal"]
    assert status == FAIL and "cpu-thermal reached 91.0 °C, over the 85 °C limit" in reason
    assert "temperature alert(s) during the load" in reason
    assert "alert during the load: Temperature on" in out
    assert steps["smoke"] == (SKIP, "no golden inputs given (a folder with NAME.npz inputs and NAME.expected.npz "
                                    "outputs); the package of det has no warm-up sample either (deploy it with "
                                    "--sample FILE.npz)")
    assert steps["rollback"] == (SKIP, "left out by the operator")


def test_without_golden_inputs_the_smoke_test_runs_the_packages_warm_up_sample(console_env: ConsoleEnv,
                                                                              tmp_path: Path) -> None:
    """Silero VAD runs only on a real ``sr`` (16000): its package's sample is what the smoke test feeds."""
    sample = tmp_path / "sample.npz"
    np.savez(sample, input=np.zeros((1, 512), np.float32), state=np.zeros((2, 1, 128), np.float32),
             sr=np.int64(16000))
    package = tmp_path / "vad.tar.gz"
    build_package(BY_NAME["silero-vad"].path(), package, "vad", "1.0.0", "tests", sample=sample)
    core = ConsoleCore(console_env)
    try:
        session = core.session("local")
        session.connect()
        assert StoreClient(session, who="tests").deploy(package).result == "committed"
    finally:
        core.close()
    reports = tmp_path / "reports"
    _, out, err = _run(console_env, "commission", "--serial", "VAD-1", "--load-seconds", "5",
                       "--no-rollback-drill", "-o", str(reports))
    steps = _steps(reports, "VAD-1")
    assert steps["smoke"] == (PASS, "vad runs on its package's warm-up sample (output, stateN); no golden outputs "
                                    "were given to compare with"), out + err
    assert "warmup.npz: outputs output, stateN" in out


def test_bad_input_is_refused_before_anything_runs(console_env: ConsoleEnv, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    code, _, err = _run(console_env, "commission", "--serial", "X", "--golden", str(tmp_path / "nope"),
                        "-o", str(reports))
    assert code == ExitCode.USAGE and "golden folder" in err and "does not exist" in err
    code, _, err = _run(console_env, "commission", "--serial", "X", "--load-seconds", "1", "-o", str(reports))
    assert code == ExitCode.USAGE and "the load must last 5 to 3600 seconds (got 1)" in err
    code, _, err = _run(console_env, "commission", "--serial", "X", "--model", "ghost", "-o", str(reports))
    assert code == ExitCode.USAGE and "the device has no model 'ghost'" in err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = _run(console_env, "commission", "--serial", "X", "-o", str(blocker / "sub"))
    assert code == ExitCode.USAGE and "cannot write reports to" in err
    deploy(console_env, tmp_path, ["1.0.0"], name="a")
    deploy(console_env, tmp_path, ["1.0.0"], name="b")
    code, _, err = _run(console_env, "commission", "--serial", "X", "-o", str(reports))
    assert code == ExitCode.USAGE and "several models (a, b)" in err
    if read_serial("/") is None:  # no --serial and none from the device: refused, saying what to give
        code, _, err = _run(console_env, "commission", "--model", "a", "-o", str(reports))
        assert code == ExitCode.USAGE and "reports no serial number" in err
    assert not reports.exists() or not any(reports.iterdir())
