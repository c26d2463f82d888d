"""Small ONNX models with the traits that broke quantization on real third-party models, built here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(7)


def _weights(name: str, shape: tuple[int, ...]) -> onnx.TensorProto:
    return numpy_helper.from_array((RNG.standard_normal(shape) * 0.2).astype(np.float32), name)


def resize_by_computed_size(path: Path, opset: int = 17) -> None:
    """Conv, then an upsample whose sizes are computed in float from Shape (as detector exports do):
    Shape -> Cast(float) -> Mul(2.0) -> Cast(int64) -> Resize sizes. FP16 must keep that arithmetic FP32."""
    nodes = [
        helper.make_node("Conv", ["images", "w", "b"], ["c"], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Shape", ["r"], ["shape"]),
        helper.make_node("Cast", ["shape"], ["shape_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["shape_f", "factor"], ["size_f"]),
        helper.make_node("Cast", ["size_f"], ["size"], to=TensorProto.INT64),
        helper.make_node("Resize", ["r", "", "", "size"], ["up"], mode="nearest"),
        helper.make_node("Sigmoid", ["up"], ["out"]),
    ]
    inits = [_weights("w", (4, 3, 3, 3)), _weights("b", (4,)),
             numpy_helper.from_array(np.array([1.0, 1.0, 2.0, 2.0], dtype=np.float32), "factor")]
    graph = helper.make_graph(nodes, "resize", [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                                                                ["N", 3, 16, 16])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 4, 32, 32])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.save(model, str(path))


def conv_opset11(path: Path) -> None:
    """Two convolutions at opset 11, where Q/DQ has no per-channel axis."""
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("GlobalAveragePool", ["c2"], ["y"]),
    ]
    inits = [_weights("w1", (8, 3, 3, 3)), _weights("b1", (8,)), _weights("w2", (4, 8, 3, 3)), _weights("b2", (4,))]
    graph = helper.make_graph(nodes, "conv11", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 1, 1])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 6
    onnx.save(model, str(path))


def with_scalar_threshold(path: Path) -> None:
    """A MatMul model with a second, int64 scalar input (a count or threshold, as NMS-bearing exports have)."""
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["m"]),
        helper.make_node("Cast", ["k"], ["k_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["m", "k_f"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "scalar", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16]),
                                                helper.make_tensor_value_info("k", TensorProto.INT64, [])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])], [_weights("w", (16, 8))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def prequantized(path: Path) -> None:
    """A model that already carries Q/DQ nodes (as a ModelOpt or QAT export does)."""
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
        helper.make_node("DequantizeLinear", ["q", "s", "z"], ["dq"]),
        helper.make_node("MatMul", ["dq", "w"], ["y"]),
    ]
    inits = [_weights("w", (16, 8)), numpy_helper.from_array(np.array(0.05, dtype=np.float32), "s"),
             numpy_helper.from_array(np.array(0, dtype=np.int8), "z")]
    graph = helper.make_graph(nodes, "pre", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def token_embedding(path: Path, vocab: int = 4) -> None:
    """Token ids (int64, dynamic length) into a Gather on a [vocab, 8] table: ids >= vocab are rejected."""
    nodes = [helper.make_node("Gather", ["table", "ids"], ["emb"]), helper.make_node("Relu", ["emb"], ["y"])]
    graph = helper.make_graph(nodes, "emb", [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, "T"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, "T", 8])],
                              [_weights("table", (vocab, 8))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
