"""ONNX models the job tests build themselves (no downloads)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from device_runtime.demo_model import write_demo_model


def static_demo(path: Path) -> None:
    """The demo classifier with a fixed batch of 1 (no dynamic dimension)."""
    model = onnx.load(str(path.parent / "demo.onnx"))
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    model.graph.output[0].type.tensor_type.shape.dim[0].dim_value = 1
    onnx.save(model, str(path))


def slow_model(path: Path, size: int = 512, layers: int = 64) -> None:
    """A chain of large MatMuls: slow enough on a CPU to be cancelled mid-run."""
    rng = np.random.default_rng(1)
    nodes, inits = [], []
    current = "x"
    for i in range(layers):
        w = "w%d" % i
        inits.append(numpy_helper.from_array((rng.standard_normal((size, size)) / size**0.5).astype(np.float32), w))
        nodes.append(helper.make_node("MatMul", [current, w], ["h%d" % i]))
        current = "h%d" % i
    nodes.append(helper.make_node("Identity", [current], ["y"]))
    graph = helper.make_graph(
        nodes,
        "slow",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [size, size])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def external_data_model(path: Path) -> None:
    """The static demo with its weights in a separate file (as models over 2 GB must be)."""
    model = onnx.load(str(path.parent / "demo_static.onnx"))
    onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
              location=path.name + ".data", size_threshold=0)


def custom_op_model(path: Path) -> None:
    """A model with an operator no backend has: validate must name it."""
    node = helper.make_node("FancyBlur", ["x"], ["y"], domain="example.vision")
    graph = helper.make_graph(
        [node],
        "custom",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("example.vision", 1)]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    onnx.save(model, str(path))


def write_models(directory: Path) -> None:
    write_demo_model(str(directory / "demo.onnx"))
    static_demo(directory / "demo_static.onnx")
    slow_model(directory / "slow.onnx")
    external_data_model(directory / "external.onnx")
    custom_op_model(directory / "custom_op.onnx")
    (directory / "corrupt.onnx").write_bytes(b"\x08\x07this is not a protobuf model" * 10)
