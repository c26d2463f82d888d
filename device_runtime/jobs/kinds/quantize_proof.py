"""What a quantize job checks before it may succeed: the source is not already quantized, and the output
passes ``onnx.checker``, loads in ONNX Runtime and runs one real input to finite outputs."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping

from device_runtime.engines.ort_session import CPU, open_session
from device_runtime.jobs.kinds.base import JobFailed
from device_runtime.jobs.kinds.onnx_io import ORT_TYPES, all_nodes

# Operators that only a quantized model has (QDQ form and ONNX Runtime's QOperator / integer forms).
QUANTIZED_OPS = ("QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger",
                 "QGemm", "QAttention", "MatMulNBits", "DynamicQuantizeLSTM", "DynamicQuantizeMatMul",
                 "MatMulIntegerToFloat")


def quantized_operators(model: Any) -> Dict[str, int]:
    """Counts of the operators that show a model is already quantized (``QLinear*`` included)."""
    counts: Dict[str, int] = {}
    for node in all_nodes(model.graph):
        if node.op_type in QUANTIZED_OPS or node.op_type.startswith("QLinear"):
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def refuse_quantized(model: Any, path: str, precision: str) -> None:
    counts = quantized_operators(model)
    if counts:
        found = ", ".join("%d %s" % (count, op) for op, count in sorted(counts.items()))
        raise JobFailed("%s is already quantized (%s): %s it would not load or would lose accuracy twice. "
                        "Quantize the FP32 original instead, or build this model as it is"
                        % (path, found, "converting it to FP16" if precision == "fp16" else "quantizing it again"))


# The operators INT8 speeds up in TensorRT (and ONNX Runtime's QDQ quantizer quantizes first).
INT8_WORTHY = ("Conv", "ConvTranspose", "MatMul", "Gemm")


def _op_list(model: Any) -> str:
    ops = sorted({node.op_type for node in all_nodes(model.graph)})
    return ", ".join(ops[:12]) + (", ..." if len(ops) > 12 else "")


def refuse_nothing_to_gain(model: Any, path: str, precision: str) -> None:
    """FP16 needs floating-point weights to halve; INT8 needs a convolution or matrix product to quantize."""
    if precision == "int8":
        if not any(node.op_type in INT8_WORTHY for node in all_nodes(model.graph)):
            raise JobFailed("%s has nothing INT8 would speed up: no Conv, ConvTranspose, MatMul or Gemm (its "
                            "operators: %s). Run it as it is, or in FP16" % (path, _op_list(model)))
        return
    from onnx import TensorProto

    floats = (TensorProto.FLOAT, TensorProto.DOUBLE)
    weights = [t for t in model.graph.initializer if t.data_type in floats] + [
        a.t for n in all_nodes(model.graph) if n.op_type == "Constant" for a in n.attribute
        if a.name == "value" and a.t.data_type in floats and len(a.t.dims) > 0]
    if not weights:
        raise JobFailed("%s has no floating-point weights for FP16 to halve (its operators: %s): there is nothing "
                        "to gain; run it as it is" % (path, _op_list(model)))


def _first_nonfinite(path: str, feeds: Mapping[str, Any]) -> str:
    """Where the values first overflow: the first node (in graph order) with a NaN or infinite float output."""
    import numpy as np
    import onnx

    model = onnx.load(path)
    outputs = {vi.name for vi in model.graph.output}
    names = [out for node in model.graph.node for out in node.output if out and out not in outputs]
    for name in names:
        model.graph.output.add().name = name
    try:
        session = open_session(model.SerializeToString(), [CPU])
        values = dict(zip(names, session.run(names, dict(feeds))))
    except Exception:
        return ""
    producers = {out: node for node in model.graph.node for out in node.output}
    for name in names:
        array = np.asarray(values[name])
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            node = producers[name]
            return (": they first appear after node %r (%s), which overflows FP16; keep it in FP32 (edgectl "
                    "quantize --block-op %s) and retry" % (node.name, node.op_type, node.op_type))
    return ""


def prove_output(path: str, feeds: Mapping[str, Any]) -> str:
    """Raise JobFailed unless ``path`` passes the checker and runs ``feeds`` in ONNX Runtime to finite outputs."""
    import numpy as np
    import onnx
    import onnxruntime as ort

    try:
        onnx.checker.check_model(path)
    except Exception as exc:
        raise JobFailed("the written model fails the ONNX checker (%s); nothing was kept. Report this with the "
                        "source model" % str(exc).strip()[:400]) from None
    try:
        session = open_session(path, [CPU])
        names = [out.name for out in session.get_outputs()]
        typed = {arg.name: np.asarray(feeds[arg.name]).astype(ORT_TYPES.get(arg.type, "float32"))
                 for arg in session.get_inputs()}  # an FP16-I/O output takes the sample in FP16
        outputs = session.run(names, typed)
    except Exception as exc:
        raise JobFailed("ONNX Runtime cannot load or run the written model (%s); nothing was kept"
                        % str(exc).strip()[:400]) from None
    shown: List[str] = []
    for name, value in zip(names, outputs):
        array = np.asarray(value)
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise JobFailed("the written model gives NaN or infinite values in output %r on the sample input%s; "
                            "nothing was kept" % (name, _first_nonfinite(path, typed)))
        shown.append("%s %s %s" % (name, list(array.shape), array.dtype))
    return ("onnx.checker passed; ONNX Runtime %s loaded it and ran one sample input to finite outputs (%s)"
            % (ort.__version__, ", ".join(shown)))
