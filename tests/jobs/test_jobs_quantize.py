"""quantize on models with the traits that broke it: every output proven (checker + ONNX Runtime run)
before success, FP16 valid with I/O FP32, INT8 in TensorRT's Q/DQ form, refusals that name the cause."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from device_runtime import protocol as p
from device_runtime.jobs.kinds.qdq_rules import check_qdq
from tests.support import quant_models
from tests.support.jobs_harness import Harness, capabilities

pytestmark = pytest.mark.slow


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path / "root", capabilities())
    yield h
    h.close()


def run(h: Harness, spec: dict[str, object]) -> p.JobInfo:
    return h.wait_final(h.submit("quantize", spec).id)


def succeeded(h: Harness, spec: dict[str, object]) -> p.QuantizeResult:
    done = run(h, spec)
    assert done.state == p.JOB_SUCCEEDED, (done.error, h.log_text(done.id))
    result = p.QuantizeResult.from_wire(done.result or {})
    assert result.proof.startswith("onnx.checker passed; ONNX Runtime") and "finite outputs" in result.proof
    return result


def _io_types(path: Path) -> list[int]:
    graph = onnx.load(str(path)).graph
    return [vi.type.tensor_type.elem_type for vi in list(graph.input) + list(graph.output)]


def test_fp16_is_valid_sorted_keeps_io_fp32_and_shape_arithmetic(harness: Harness, tmp_path: Path) -> None:
    source = tmp_path / "resize.onnx"
    quant_models.resize_by_computed_size(source)
    out = tmp_path / "resize.fp16.onnx"
    result = succeeded(harness, {"model": str(source), "output": str(out), "precision": "fp16"})
    onnx.checker.check_model(str(out), full_check=True)
    assert set(_io_types(out)) == {onnx.TensorProto.FLOAT} and result.kept_fp32 == ["images", "out"]
    model = onnx.load(str(out))
    mul = next(n for n in model.graph.node if n.op_type == "Mul")
    factor = next(i for i in model.graph.initializer if i.name in mul.input)
    assert factor.data_type == onnx.TensorProto.FLOAT  # the size arithmetic stayed FP32
    assert any("shape-computing nodes kept in FP32" in note for note in result.notes)
    conv_w = next(i for i in model.graph.initializer if i.name == "w")
    assert conv_w.data_type == onnx.TensorProto.FLOAT16
    x = np.random.default_rng(0).random((2, 3, 16, 16), dtype=np.float32)
    want = ort.InferenceSession(str(source)).run(None, {"images": x})[0]
    got = ort.InferenceSession(str(out)).run(None, {"images": x})[0]
    assert got.shape == (2, 4, 32, 32) and np.abs(got - want).max() < 1e-2


def test_fp16_io_on_request(harness: Harness, tmp_path: Path) -> None:
    source = tmp_path / "resize.onnx"
    quant_models.resize_by_computed_size(source)
    out = tmp_path / "io16.onnx"
    result = succeeded(harness, {"model": str(source), "output": str(out), "precision": "fp16", "fp16_io": True,
                                 "keep_fp32": ["out"]})
    assert _io_types(out) == [onnx.TensorProto.FLOAT16, onnx.TensorProto.FLOAT] and result.kept_fp32 == ["out"]


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_already_quantized_is_refused_naming_operators(harness: Harness, tmp_path: Path, precision: str) -> None:
    source = tmp_path / "pre.onnx"
    quant_models.prequantized(source)
    np.save(tmp_path / "c.npy", np.zeros((2, 16), dtype=np.float32))
    done = run(harness, {"model": str(source), "output": str(tmp_path / "o.onnx"), "precision": precision,
                         "calibration": str(tmp_path / "c.npy")})
    assert done.state == p.JOB_FAILED
    assert "is already quantized (1 DequantizeLinear, 1 QuantizeLinear)" in (done.error or "")
    assert "Quantize the FP32 original instead" in (done.error or "")
    assert not (tmp_path / "o.onnx").exists()


def test_int8_opset11_per_channel_upgrades_and_loads(harness: Harness, tmp_path: Path) -> None:
    source = tmp_path / "conv11.onnx"
    quant_models.conv_opset11(source)
    np.save(tmp_path / "c.npy", np.random.default_rng(1).random((4, 3, 16, 16), dtype=np.float32))
    out = tmp_path / "conv11.int8.onnx"
    result = succeeded(harness, {"model": str(source), "output": str(out), "precision": "int8",
                                 "calibration": str(tmp_path / "c.npy"), "max_samples": 4})
    assert result.notes == ["opset upgraded from 11 to 13 for per-channel weights"]
    model = onnx.load(str(out))
    dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear"]
    assert dq and any(a.name == "axis" for n in dq for a in n.attribute)  # per-channel weights
    assert check_qdq(model) == [] and result.qdq_findings == []
    weight_dq_inputs = {n.input[0] for n in dq}
    assert not any(i.data_type == onnx.TensorProto.INT32 for i in model.graph.initializer
                   if i.name in weight_dq_inputs)  # no INT32 bias dequantize
    q_of_weights = [n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] in ("w1", "w2")]
    assert len(q_of_weights) == 2  # Q/DQ pairs on the float weights
    assert result.quantized_nodes >= 2


def test_int8_with_an_int64_scalar_input(harness: Harness, tmp_path: Path) -> None:
    source = tmp_path / "scalar.onnx"
    quant_models.with_scalar_threshold(source)
    rng = np.random.default_rng(2)
    np.savez(tmp_path / "c.npz", x=rng.random((3, 1, 16), dtype=np.float32), k=np.array([1, 2, 3], dtype=np.int64))
    result = succeeded(harness, {"model": str(source), "output": str(tmp_path / "s.int8.onnx"), "precision": "int8",
                                 "calibration": str(tmp_path / "c.npz")})
    assert result.calibration_samples == 3 and result.qdq_findings == []
