"""The demo model: a small ONNX image classifier the project builds itself (no downloads).

Input ``image`` float32 [N, 3, 64, 64] (dynamic batch), output ``logits`` float32 [N, 10].
Weights come from a fixed seed, so every build is byte-identical.
"""

from __future__ import annotations

import os
from typing import Any, List

from device_runtime.fileio import write_atomic

DEMO_NAME = "edge-demo-classifier"
DEMO_FILE = DEMO_NAME + ".onnx"
INPUT_SHAPE = (1, 3, 64, 64)
NUM_CLASSES = 10


def build_demo_model(seed: int = 7) -> Any:
    """Return an ``onnx.ModelProto``: conv-bn-relu x3 with pooling, then a linear head."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits: List[Any] = []
    nodes: List[Any] = []

    def weight(name: str, shape: Any, scale: float) -> str:
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name))
        return name

    channels = [3, 16, 32, 64]
    current = "image"
    for i in range(3):
        cin, cout = channels[i], channels[i + 1]
        w = weight("conv%d.w" % i, (cout, cin, 3, 3), (2.0 / (cin * 9)) ** 0.5)
        b = weight("conv%d.b" % i, (cout,), 0.01)
        nodes.append(helper.make_node("Conv", [current, w, b], ["conv%d" % i], pads=[1, 1, 1, 1]))
        scale = weight("bn%d.scale" % i, (cout,), 0.1)
        inits[-1] = numpy_helper.from_array(
            (1.0 + rng.standard_normal(cout) * 0.1).astype(np.float32), scale
        )
        bias = weight("bn%d.bias" % i, (cout,), 0.05)
        mean = weight("bn%d.mean" % i, (cout,), 0.05)
        var = "bn%d.var" % i
        inits.append(numpy_helper.from_array((1.0 + rng.random(cout) * 0.1).astype(np.float32), var))
        nodes.append(
            helper.make_node("BatchNormalization", ["conv%d" % i, scale, bias, mean, var], ["bn%d" % i])
        )
        nodes.append(helper.make_node("Relu", ["bn%d" % i], ["relu%d" % i]))
        nodes.append(
            helper.make_node("MaxPool", ["relu%d" % i], ["pool%d" % i], kernel_shape=[2, 2], strides=[2, 2])
        )
        current = "pool%d" % i
    nodes.append(helper.make_node("GlobalAveragePool", [current], ["gap"]))
    nodes.append(helper.make_node("Flatten", ["gap"], ["features"], axis=1))
    fc_w = weight("fc.w", (channels[-1], NUM_CLASSES), (1.0 / channels[-1]) ** 0.5)
    fc_b = weight("fc.b", (NUM_CLASSES,), 0.01)
    nodes.append(helper.make_node("Gemm", ["features", fc_w, fc_b], ["logits"]))

    graph = helper.make_graph(
        nodes,
        "edge_demo_classifier",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 64, 64])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", NUM_CLASSES])],
        inits,
    )
    model = helper.make_model(
        graph,
        producer_name="edge-operator-console",
        opset_imports=[helper.make_opsetid("", 17)],
        doc_string="Edge Operator Console demo classifier (random weights, for trying every job)",
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def write_demo_model(path: str) -> str:
    """Write the demo model atomically (temp file, fsync, rename) and return its path."""
    import onnx

    data = build_demo_model().SerializeToString()
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    write_atomic(path, data)
    onnx.checker.check_model(path)
    return path


def ensure_demo_model(directory: str) -> str:
    """The demo model under ``directory``, built on first use."""
    path = os.path.join(directory, DEMO_FILE)
    if not os.path.exists(path):
        write_demo_model(path)
    return path
