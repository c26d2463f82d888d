"""What a quantize job checks before it may succeed: the source is not already quantized, and the output
passes ``onnx.checker``, loads in ONNX Runtime and runs one real input to finite outputs."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping

from device_runtime.jobs.kinds.base import JobFailed
from device_runtime.jobs.kinds.onnx_io import ORT_TYPES

# Operators that only a quantized model has (QDQ form and ONNX Runtime's QOperator / integer forms).
QUANTIZED_OPS = ("QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger",
                 "QGemm", "QAttention", "MatMulNBits")


def quantized_operators(model: Any) -> Dict[str, int]:
    """Counts of the operators that show a model is already quantized (``QLinear*`` included)."""
    counts: Dict[str, int] = {}
    for node in model.graph.node:
        if node.op_type in QUANTIZED_OPS or node.op_type.startswith("QLinear"):
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def refuse_quantized(model: Any, path: str, precision: str) -> None:
    counts = quantized_operators(model)
    if counts:
        found = ", ".join("%d %s" % (count, op) for op, count in sorted(counts.items()))
        raise JobFailed("%s is already quantized (%s): %s it again would not load or would lose accuracy twice. "
                        "Quantize the FP32 original instead, or build this model as it is"
                        % (path, found, "converting it to FP16" if precision == "fp16" else "quantizing"))


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
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
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
            raise JobFailed("the written model gives NaN or infinite values in output %r on the sample input "
                            "(FP16 overflow?); keep the overflowing operators in FP32 (block them) and retry" % name)
        shown.append("%s %s %s" % (name, list(array.shape), array.dtype))
    return ("onnx.checker passed; ONNX Runtime %s loaded it and ran one sample input to finite outputs (%s)"
            % (ort.__version__, ", ".join(shown)))
