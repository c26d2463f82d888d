"""INT8 static quantization to the Q/DQ form TensorRT builds.

ONNX Runtime's ``quantize_static`` in QDQ format, symmetric INT8 activations and weights (zero point
0), with the options that make its output TensorRT's form (onnxruntime#17738, NVIDIA/TensorRT#3360
and #4542 show the default form failing to build): ``QuantizeBias: False`` (no INT32 bias
DequantizeLinear, which TensorRT's dequantize layer does not take), ``AddQDQPairToWeight: True``
(float weights behind a Q/DQ pair) and ``DedicatedQDQPair: True`` (one pair per consumer).
Per-channel weights need the ``axis`` attribute of Q/DQ, which exists from opset 13: an older model
is converted to opset 13 when the ONNX version converter can, else it is quantized per tensor, and
the result says which.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Tuple

from device_runtime.jobs.kinds.base import JobFailed, WorkerContext

METHODS = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}
PER_CHANNEL_OPSET = 13
WORTHY = ("Conv", "ConvTranspose", "MatMul", "Gemm")
TENSORRT_OPTIONS = {"ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False,
                    "AddQDQPairToWeight": True, "DedicatedQDQPair": True}


class CalibrationReader:
    """ONNX Runtime's CalibrationDataReader protocol over loaded samples, reporting progress."""

    def __init__(self, samples: List[Dict[str, Any]], ctx: WorkerContext) -> None:
        self.samples = samples
        self.ctx = ctx
        self.index = 0

    def get_next(self) -> Optional[Dict[str, Any]]:
        if self.index >= len(self.samples):
            return None
        sample = self.samples[self.index]
        self.index += 1
        self.ctx.progress(0.2 + 0.6 * self.index / len(self.samples),
                          "calibrating: sample %d/%d" % (self.index, len(self.samples)))
        return sample

    def rewind(self) -> None:
        self.index = 0


def default_opset(model: Any) -> int:
    return max((int(entry.version) for entry in model.opset_import if entry.domain in ("", "ai.onnx")), default=0)


def opset_for_per_channel(source: str, scratch: str) -> Tuple[str, bool, Optional[str]]:
    """(model path to quantize, per-channel possible, note): upgrades an opset < 13 when the converter can."""
    import onnx
    from onnx import version_converter

    model = onnx.load(source)
    opset = default_opset(model)
    if opset >= PER_CHANNEL_OPSET:
        return source, True, None
    try:
        upgraded = version_converter.convert_version(model, PER_CHANNEL_OPSET)
        onnx.checker.check_model(upgraded)
    except Exception as exc:
        return source, False, ("per-tensor weights: the model is opset %d, per-channel needs opset %d and the ONNX "
                               "version converter could not upgrade it (%s)" % (opset, PER_CHANNEL_OPSET,
                                                                               str(exc).strip()[:160]))
    path = os.path.join(scratch, "opset13.onnx")
    onnx.save(upgraded, path)
    return path, True, "opset upgraded from %d to %d for per-channel weights" % (opset, PER_CHANNEL_OPSET)


def count_quantized(model: Any) -> int:
    """Nodes (subgraphs included) fed by at least one DequantizeLinear: the operators that now run in INT8."""
    from device_runtime.jobs.kinds.onnx_io import all_nodes

    nodes = list(all_nodes(model.graph))
    dq_outputs = {out for node in nodes if node.op_type == "DequantizeLinear" for out in node.output}
    return sum(1 for node in nodes
               if node.op_type not in ("QuantizeLinear", "DequantizeLinear") and dq_outputs.intersection(node.input))


def require_quantized(model: Any, source: Any, quantizer: str = "ONNX Runtime's quantizer") -> int:
    """The count of INT8 operators; a JobFailed saying why when the quantizer changed nothing."""
    from device_runtime.jobs.kinds.onnx_io import all_nodes

    count = count_quantized(model)
    if count:
        return count
    top = {node.op_type for node in source.graph.node}
    nested = sorted({node.op_type for node in all_nodes(source.graph)} - top & set(WORTHY))
    where = (" Its %s sit inside If / Loop bodies, which %s does not reach." % (", ".join(nested), quantizer)
             if nested else "")
    other = "" if quantizer.startswith("NVIDIA") else ", or quantize with a tool that handles subgraphs"
    raise JobFailed("%s quantized no operator of this model, so an INT8 copy would be the FP32 model under "
                    "another name; nothing was kept.%s Use FP16%s" % (quantizer, where, other))


def quantize_int8(source: str, temp: str, samples: List[Dict[str, Any]], per_channel: bool, method: str,
                  ctx: WorkerContext) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    try:
        quantize_static(
            source, temp, CalibrationReader(samples, ctx), quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=per_channel,
            calibrate_method=getattr(CalibrationMethod, METHODS[method]), extra_options=dict(TENSORRT_OPTIONS))
    except (OSError, JobFailed):
        raise
    except Exception as exc:
        raise JobFailed("ONNX Runtime's INT8 quantization failed on this model: %s. The calibration data was "
                        "read and matches the inputs; the job log has details" % str(exc).strip()[:500]) from None
