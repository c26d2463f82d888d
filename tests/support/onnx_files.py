"""Small ONNX files for the TensorRT adapter tests: one convolution, with a fixed or dynamic batch, optionally Q/DQ."""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper


def onnx_file(path: Path, batch: int | str = "N", qdq: bool = False) -> str:
    """A one-Relu model with input ``images`` [batch, 3, 64, 64]; with ``qdq`` a Q/DQ pair in front."""
    nodes = [helper.make_node("Relu", ["x" if qdq else "images"], ["y"])]
    inits = []
    if qdq:
        inits = [helper.make_tensor("s", TensorProto.FLOAT, [], [0.02]),
                 helper.make_tensor("z", TensorProto.INT8, [], [0])]
        nodes[:0] = [helper.make_node("QuantizeLinear", ["images", "s", "z"], ["q"]),
                     helper.make_node("DequantizeLinear", ["q", "s", "z"], ["x"])]
    shape: list[int | str] = [batch, 3, 64, 64]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("images", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return str(path)
