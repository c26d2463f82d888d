"""The static TensorRT Q/DQ rules check (device_runtime/jobs/kinds/qdq_rules.py) on crafted graphs and on
what ONNX Runtime's quantizer writes with its default options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from device_runtime.jobs.kinds.qdq_rules import check_qdq
from tests.support import quant_models


def _model(scale: np.ndarray, zero: np.ndarray | None, data_shape: list[int],
           scale_input: bool = False) -> onnx.ModelProto:
    inputs = ["x", "s"] + (["z"] if zero is not None else [])
    nodes = [helper.make_node("QuantizeLinear", inputs, ["q"], name="q", axis=1),
             helper.make_node("DequantizeLinear", ["q", *inputs[1:]], ["y"], name="dq", axis=1)]
    inits = [] if scale_input else [numpy_helper.from_array(scale, "s")]
    if zero is not None:
        inits.append(numpy_helper.from_array(zero, "z"))
    graph_inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, data_shape)]
    if scale_input:
        graph_inputs.append(helper.make_tensor_value_info("s", TensorProto.FLOAT, []))
    graph = helper.make_graph(nodes, "g", graph_inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                                                                          data_shape)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


GOOD = _model(np.array(0.1, np.float32), np.array(0, np.int8), [1, 4])


@pytest.mark.parametrize(("model", "needle"), [
    (_model(np.array(0.1, np.float32), np.array(3, np.int8), [1, 4]), "zero point is not all zeros"),
    (_model(np.array(0.1, np.float32), np.array(0, np.uint8), [1, 4]), "quantized type UINT8"),
    (_model(np.array(-0.1, np.float32), np.array(0, np.int8), [1, 4]), "not strictly positive"),
    (_model(np.full(4, 0.1, np.float32), np.zeros(4, np.int8), [1, 4]), "per-channel scales on an activation"),
    (_model(np.array(0.1, np.float32), np.array(0, np.int8), [1, 4], scale_input=True), "not a build-time constant"),
])
def test_rules(model: onnx.ModelProto, needle: str) -> None:
    findings = check_qdq(model)
    assert findings and all(needle in f for f in findings), findings
    assert findings[0].startswith(("QuantizeLinear 'q'", "DequantizeLinear 'dq'"))


def test_good_graph_passes() -> None:
    assert check_qdq(GOOD) == []


def test_onnxruntime_default_bias_quantization_is_caught(tmp_path: Path) -> None:
    """quantize_static's defaults write an INT32 bias DequantizeLinear, which TensorRT cannot take."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    source = tmp_path / "conv.onnx"
    quant_models.conv_opset11(source)
    rng = np.random.default_rng(0)

    class Reader:
        def __init__(self) -> None:
            self.items = [{"x": rng.random((1, 3, 16, 16), dtype=np.float32)} for _ in range(2)]

        def get_next(self) -> dict[str, np.ndarray] | None:
            return self.items.pop() if self.items else None

    out = tmp_path / "default.onnx"
    quantize_static(str(source), str(out), Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8, extra_options={"ActivationSymmetric": True, "WeightSymmetric": True})
    findings = check_qdq(onnx.load(str(out)))
    assert any("quantized type INT32" in f and "quantized bias" in f for f in findings), findings
