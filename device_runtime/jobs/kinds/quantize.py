"""quantize: FP16 conversion or INT8 static quantization to a Q/DQ model TensorRT can build.

FP16 (onnxruntime.transformers.float16) keeps the named inputs and outputs in FP32, with Cast
nodes at the boundary, so callers keep feeding FP32. INT8 uses ONNX Runtime's static
quantization in QDQ format with symmetric INT8 activations and weights (zero point 0, as
TensorRT requires), per-channel weights optionally, and the chosen calibration method
(minmax, entropy or percentile) over the calibration data. The output is written under a
temp name and renamed, so a failed or cancelled job leaves nothing at the output path.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Dict, List, Optional

from device_runtime.jobs.kinds.base import JobFailed, JobKind, JobRefused, WorkerContext
from device_runtime.jobs.kinds.onnx_io import dims_of, load_model, require_file
from device_runtime.protocol import Capabilities, QuantizeResult, QuantizeSpec, Record

METHODS = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}


class QuantizeKind(JobKind):
    name = "quantize"
    gpu = True
    spec_type = QuantizeSpec

    def check(self, spec: Any, capabilities: Capabilities) -> None:
        assert isinstance(spec, QuantizeSpec)
        if spec.precision not in ("fp16", "int8"):
            raise JobRefused("precision must be fp16 or int8, not %r" % spec.precision)
        if spec.precision == "int8":
            if not spec.calibration:
                raise JobRefused("INT8 needs calibration data: give .npy/.npz files or a folder of images "
                                 "that look like what the robot sees")
            if spec.calibrate_method not in METHODS:
                raise JobRefused("calibration method must be one of %s" % ", ".join(METHODS))
            if spec.max_samples < 1:
                raise JobRefused("max_samples must be at least 1")
        if os.path.abspath(spec.output) == os.path.abspath(spec.model):
            raise JobRefused("the output must not overwrite the source model; choose another output path")

    def run(self, spec: Any, ctx: WorkerContext) -> Record:
        assert isinstance(spec, QuantizeSpec)
        require_file(spec.model)
        if spec.precision == "fp16":
            return _fp16(spec, ctx)
        return _int8(spec, ctx)


def _io_names(model: Any) -> List[str]:
    initializers = {init.name for init in model.graph.initializer}
    return [vi.name for vi in model.graph.input if vi.name not in initializers] + [vi.name for vi in model.graph.output]


def _fp16(spec: QuantizeSpec, ctx: WorkerContext) -> QuantizeResult:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    ctx.progress(0.1, "reading the model", force=True)
    model = load_model(spec.model)
    names = _io_names(model)
    unknown = [name for name in spec.keep_fp32 if name not in names]
    if unknown:
        raise JobFailed("keep_fp32 names %s, which are not inputs or outputs of the model (they are: %s)"
                        % (", ".join(unknown), ", ".join(names)))
    ctx.progress(0.3, "converting to FP16", force=True)
    keep: Any = list(spec.keep_fp32) if spec.keep_fp32 else False
    converted = convert_float_to_float16(model, keep_io_types=keep)
    ctx.progress(0.8, "writing", force=True)
    size = ctx.write_output(spec.output, lambda temp: onnx.save(converted, temp))
    ctx.log("wrote %s (%d bytes)" % (spec.output, size))
    return QuantizeResult(spec.output, "fp16", size, os.path.getsize(spec.model), kept_fp32=list(spec.keep_fp32))


class _Reader:
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


def _count_quantized(path: str) -> int:
    """Nodes fed by at least one DequantizeLinear: the operators that now run in INT8."""
    import onnx

    graph = onnx.load(path, load_external_data=False).graph
    dq_outputs = {out for node in graph.node if node.op_type == "DequantizeLinear" for out in node.output}
    return sum(1 for node in graph.node
               if node.op_type not in ("QuantizeLinear", "DequantizeLinear") and dq_outputs.intersection(node.input))


def _int8(spec: QuantizeSpec, ctx: WorkerContext) -> QuantizeResult:
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from device_runtime.jobs.kinds.calibration import load_samples

    ctx.progress(0.0, "reading the model", force=True)
    model = load_model(spec.model, load_external_data=False)
    initializers = {init.name for init in model.graph.initializer}
    inputs = []
    for vi in model.graph.input:
        if vi.name in initializers:
            continue
        dtype = onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)
        inputs.append((vi.name, dims_of(vi), str(dtype)))
    del model
    ctx.progress(0.05, "loading calibration data", force=True)
    assert spec.calibration is not None
    samples = load_samples(spec.calibration, inputs, spec.preprocess, spec.max_samples)
    ctx.log("%d calibration samples from %s" % (len(samples), spec.calibration))
    with tempfile.TemporaryDirectory(prefix="edge-quant-") as scratch:
        prepared = os.path.join(scratch, "prepared.onnx")
        ctx.progress(0.1, "preparing the model (shape inference, folding)", force=True)
        try:
            quant_pre_process(spec.model, prepared, skip_symbolic_shape=True)
        except Exception as exc:
            ctx.log("pre-processing skipped (%s); quantizing the model as it is" % str(exc)[:300])
            prepared = spec.model

        def write(temp: str) -> None:
            try:
                quantize_static(
                    prepared,
                    temp,
                    _Reader(samples, ctx),
                    quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8,
                    per_channel=spec.per_channel,
                    calibrate_method=getattr(CalibrationMethod, METHODS[spec.calibrate_method]),
                    extra_options={"ActivationSymmetric": True, "WeightSymmetric": True},
                )
            except (OSError, JobFailed):
                raise
            except Exception as exc:
                raise JobFailed("INT8 quantization failed: %s. Check that the calibration data matches the "
                                "model's inputs; the job log has details." % str(exc).strip()[:500]) from None

        size = ctx.write_output(spec.output, write)
    ctx.progress(0.95, "counting quantized nodes", force=True)
    nodes = _count_quantized(spec.output)
    ctx.log("wrote %s (%d bytes, %d quantized nodes)" % (spec.output, size, nodes))
    return QuantizeResult(
        spec.output,
        "int8",
        size,
        os.path.getsize(spec.model),
        method=spec.calibrate_method,
        calibration_samples=len(samples),
        quantized_nodes=nodes,
    )
