"""A static check of an ONNX model's Q/DQ nodes against what TensorRT's explicit quantization accepts.

The rules are TensorRT's own, from the class comments of ``IQuantizeLayer`` and ``IDequantizeLayer``
in ``include/NvInfer.h`` (NVIDIA/TensorRT tags v8.6.1 and v10.13.3) and the Developer Guide's
"Working with Quantized Types > Explicit Quantization" page
(https://docs.nvidia.com/deeplearning/tensorrt/latest/inference-library/quantized-types-explicit-quantization.html):

* symmetric only: "zeroPt must only contain zero-valued coefficients" (the ONNX parser asserts
  "TRT only supports symmetric quantization - zeroPt must be all zeros");
* "All scale coefficients must have strictly positive values", and scale and zero point must be
  build-time constants;
* the quantized type is INT8 (8.x: "accepts a signed 8-bit integer input tensor"; 10.x adds FP8,
  INT4, FP4): a DequantizeLinear of INT32 (an ONNX Runtime bias) or UINT8 data is rejected;
* "Per-channel quantization is supported only for weight inputs. Thus, Activations cannot be
  quantized per-channel."

Each finding names the node and the rule; an empty list means the Q/DQ nodes follow these rules
(it does not prove TensorRT will pick INT8 kernels for every layer).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

QDQ = ("QuantizeLinear", "DequantizeLinear")
QUANTIZED_TYPES = ("int8", "float8e4m3fn", "int4")


def _constants(graph: Any) -> Dict[str, Any]:
    from onnx import numpy_helper

    values: Dict[str, Any] = {}
    for init in graph.initializer:
        values[init.name] = init
    for node in graph.node:
        if node.op_type == "Constant" and node.output:
            for attribute in node.attribute:
                if attribute.name == "value":
                    values[node.output[0]] = attribute.t
    return {name: numpy_helper.to_array(tensor) for name, tensor in values.items()}


def _elem_types(graph: Any) -> Dict[str, int]:
    types: Dict[str, int] = {init.name: init.data_type for init in graph.initializer}
    for vi in list(graph.input) + list(graph.value_info) + list(graph.output):
        if vi.type.HasField("tensor_type"):
            types.setdefault(vi.name, vi.type.tensor_type.elem_type)
    return types


def _type_name(elem_type: Optional[int]) -> str:
    from onnx import TensorProto

    return TensorProto.DataType.Name(elem_type).lower() if elem_type else "unknown"


def check_qdq(model: Any, limit: int = 20) -> List[str]:
    """Findings (at most ``limit``) about the top-level graph's Q/DQ nodes; [] when they follow the rules."""
    graph = model.graph
    facts = _Facts(_constants(graph), _elem_types(graph), {out: node for node in graph.node for out in node.output})
    findings: List[str] = []
    for index, node in enumerate(graph.node):
        if node.op_type not in QDQ:
            continue
        name = "%s %r" % (node.op_type, node.name or "#%d" % index)
        findings.extend("%s: %s" % (name, problem) for problem in _node_problems(node, facts))
        if len(findings) >= limit:
            return findings[:limit]
    return findings


class _Facts:
    def __init__(self, constants: Dict[str, Any], types: Dict[str, int], producers: Dict[str, Any]) -> None:
        self.constants = constants
        self.types = types
        self.producers = producers

    def zero_point(self, node: Any) -> Any:
        return self.constants.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None

    def quantized_type(self, node: Any) -> str:
        """The low-precision type a Q produces or a DQ consumes; "unknown" when the graph does not say."""
        if node.op_type == "DequantizeLinear":
            data = node.input[0]
            if data in self.constants:
                return str(self.constants[data].dtype)
            producer = self.producers.get(data)
            if producer is not None and producer.op_type == "QuantizeLinear":
                return self.quantized_type(producer)
            return _type_name(self.types.get(data))
        zero = self.zero_point(node)
        if zero is not None:
            return str(zero.dtype)
        for attribute in node.attribute:
            if attribute.name == "output_dtype" and attribute.i:
                return _type_name(attribute.i)
        return "unknown"

    def is_weight(self, node: Any) -> bool:
        """Quantizes a constant: the weight itself, or a DQ of a Q of a weight (Q/DQ pair on float weights)."""
        data = node.input[0]
        if data in self.constants:
            return True
        producer = self.producers.get(data)
        return bool(producer is not None and producer.op_type == "QuantizeLinear"
                    and producer.input[0] in self.constants)


def _node_problems(node: Any, facts: _Facts) -> List[str]:
    problems: List[str] = []
    scale = facts.constants.get(node.input[1]) if len(node.input) > 1 else None
    zero = facts.zero_point(node)
    if scale is None:
        problems.append("the scale is not a build-time constant")
    elif not (scale > 0).all():
        problems.append("a scale is not strictly positive")
    if len(node.input) > 2 and node.input[2] and zero is None:
        problems.append("the zero point is not a build-time constant")
    elif zero is not None and zero.any():
        problems.append("the zero point is not all zeros (TensorRT supports symmetric quantization only)")
    data_type = facts.quantized_type(node)
    if data_type not in ("unknown", *QUANTIZED_TYPES):
        note = "; an INT32 DequantizeLinear is ONNX Runtime's quantized bias" if data_type == "int32" else ""
        problems.append("quantized type %s (TensorRT quantizes to INT8, FP8 or INT4 only%s)"
                        % (data_type.upper(), note))
    if scale is not None and scale.size > 1 and not facts.is_weight(node):
        problems.append("per-channel scales on an activation (TensorRT quantizes activations per tensor only)")
    return problems
