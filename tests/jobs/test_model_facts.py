"""Model facts: parameters counted from Constant nodes too; precision from Q/DQ, integer operators,
FP16 weights and mixes; accuracy's default tolerance follows the candidate's precision."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from device_runtime.jobs.kinds.accuracy import DEFAULT_TOLERANCES
from device_runtime.jobs.kinds.validate import _precision, _weight_census, model_precision
from tests.support import quant_models


def constant_weights(path: Path, dtype: type = np.float32) -> None:
    """A MatMul whose weight is a Constant node (as torch.onnx exports with do_constant_folding=False)."""
    weight = numpy_helper.from_array(np.ones((16, 8), dtype=dtype), "w_value")
    elem = TensorProto.FLOAT16 if dtype == np.float16 else TensorProto.FLOAT
    nodes = [helper.make_node("Constant", [], ["w"], value=weight), helper.make_node("MatMul", ["x", "w"], ["y"])]
    graph = helper.make_graph(nodes, "c", [helper.make_tensor_value_info("x", elem, [1, 16])],
                              [helper.make_tensor_value_info("y", elem, [1, 8])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_constant_node_weights_count(tmp_path: Path) -> None:
    constant_weights(tmp_path / "c.onnx")
    params, types = _weight_census(onnx.load(str(tmp_path / "c.onnx")).graph)
    assert params == 128 and types == {"float32": 128}


def test_precision_of_constant_fp16_weights(tmp_path: Path) -> None:
    constant_weights(tmp_path / "h.onnx", np.float16)
    assert model_precision(str(tmp_path / "h.onnx")) == "fp16"


def test_precision_of_prequantized_model(tmp_path: Path) -> None:
    quant_models.prequantized(tmp_path / "q.onnx")
    assert model_precision(str(tmp_path / "q.onnx")) == "int8"


@pytest.mark.parametrize(("types", "ops", "want"), [
    ({"float32": 10}, {"Conv": 1}, "fp32"),
    ({"float16": 10}, {"Conv": 1}, "fp16"),
    ({"float16": 10, "float32": 2}, {"Conv": 1, "Resize": 1}, "mixed"),
    ({"int8": 10, "float32": 1}, {"QLinearConv": 1}, "int8"),
    ({"int8": 10, "float32": 1}, {"MatMulInteger": 1, "DynamicQuantizeLinear": 1}, "int8"),
    ({"float16": 10}, {"QuantizeLinear": 1, "DequantizeLinear": 1}, "int8"),
    ({"int64": 4}, {"Gather": 1}, "fp32"),
])
def test_precision_rules(types: dict[str, int], ops: dict[str, int], want: str) -> None:
    assert _precision(types, ops) == want


def test_accuracy_tolerance_follows_precision() -> None:
    assert DEFAULT_TOLERANCES["fp16"] > DEFAULT_TOLERANCES["fp32"]
    assert DEFAULT_TOLERANCES["int8"] > DEFAULT_TOLERANCES["fp16"]
    # The FP16 case the issue saw: max abs 0.0102 with outputs near 1 passes FP16 tolerances, not FP32's.
    atol, rtol = DEFAULT_TOLERANCES["fp16"]
    assert atol + rtol * 1.0 >= 0.0102
    atol32, rtol32 = DEFAULT_TOLERANCES["fp32"]
    assert not atol32 + rtol32 * 1.0 >= 0.0102
