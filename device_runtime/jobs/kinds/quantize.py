"""quantize: FP16 conversion or INT8 static quantization to a Q/DQ model TensorRT can build.

FP16: :mod:`quantize_fp16` (I/O FP32 unless asked, shape arithmetic and blocked operators FP32, a
sorted graph). INT8: NVIDIA ModelOpt when it is installed (:mod:`quantize_modelopt`, which also
says which quantizer runs and why), else :mod:`quantize_int8` (ONNX Runtime QDQ in TensorRT's form,
per-channel only at opset >= 13); the result and the output's metadata name the quantizer. Either
way the job refuses a model that is already quantized, naming its operators, and succeeds only
after the output passed ``onnx.checker`` and ran one real input in ONNX Runtime
(:mod:`quantize_proof`); every INT8 output, whichever quantizer made it, is also checked against
TensorRT's Q/DQ rules (:mod:`qdq_rules`). The output is written under a temp name and renamed, so
a failed or cancelled job leaves nothing at the output path.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Dict, List, Tuple

from device_runtime.jobs.kinds.base import JobFailed, JobKind, JobRefused, WorkerContext
from device_runtime.jobs.kinds.onnx_io import Dim, dims_of, load_model, require_file
from device_runtime.jobs.kinds.quantize_int8 import METHODS
from device_runtime.jobs.kinds.quantize_modelopt import QUANTIZERS
from device_runtime.protocol import Capabilities, QuantizeResult, QuantizeSpec, Record

InputDecl = Tuple[str, List[Dim], str]


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
            if spec.quantizer not in QUANTIZERS:
                raise JobRefused("quantizer must be one of %s, not %r" % (", ".join(QUANTIZERS), spec.quantizer))
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


def _inputs(model: Any) -> List[InputDecl]:
    import onnx

    initializers = {init.name for init in model.graph.initializer}
    return [(vi.name, dims_of(vi), str(onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)))
            for vi in model.graph.input if vi.name not in initializers]


def _sample(spec: QuantizeSpec, inputs: List[InputDecl], ctx: WorkerContext) -> List[Dict[str, Any]]:
    """Calibration samples when given; else one generated input (dynamic dims 1) to prove the output with."""
    from device_runtime.jobs.kinds.calibration import load_samples
    from device_runtime.jobs.kinds.onnx_io import integer_ranges, random_inputs

    if spec.calibration:
        samples = load_samples(spec.calibration, inputs, spec.preprocess, spec.max_samples)
        ctx.log("%d samples from %s" % (len(samples), spec.calibration))
        return samples
    shapes = {name: tuple(d if isinstance(d, int) and d > 0 else 1 for d in dims) for name, dims, _ in inputs}
    return [random_inputs([(name, dtype) for name, _, dtype in inputs], shapes, ranges=integer_ranges(spec.model))]


METADATA_KEY = "edge.quantize"


def stamp(model: Any, record: Dict[str, Any]) -> None:
    """Record how the model was made in its metadata (``edge.quantize``, JSON), for packages and people."""
    import json

    for prop in list(model.metadata_props):
        if prop.key == METADATA_KEY:
            model.metadata_props.remove(prop)
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(record, sort_keys=True)


def _fp16(spec: QuantizeSpec, ctx: WorkerContext) -> QuantizeResult:
    import onnx

    from device_runtime.jobs.kinds.quantize_fp16 import convert_fp16
    from device_runtime.jobs.kinds.quantize_proof import prove_output, refuse_nothing_to_gain, refuse_quantized

    ctx.progress(0.1, "reading the model", force=True)
    model = load_model(spec.model)
    refuse_quantized(model, spec.model, "fp16")
    refuse_nothing_to_gain(model, spec.model, "fp16")
    names = _io_names(model)
    unknown = [name for name in spec.keep_fp32 if name not in names]
    if unknown:
        raise JobFailed("keep_fp32 names %s, which are not inputs or outputs of the model (they are: %s)"
                        % (", ".join(unknown), ", ".join(names)))
    samples = _sample(spec, _inputs(model), ctx)
    ctx.progress(0.3, "converting to FP16", force=True)
    converted = convert_fp16(model, names, spec.keep_fp32, spec.fp16_io, spec.block_ops)
    notes = []
    if converted["kept_shape_nodes"]:
        notes.append("%d shape-computing nodes kept in FP32" % len(converted["kept_shape_nodes"]))
    proof: List[str] = []

    stamp(converted["model"], {"precision": "fp16", "fp16_io": spec.fp16_io, "kept_fp32": converted["kept_io"],
                               "block_ops": list(spec.block_ops), "source": os.path.basename(spec.model)})

    def write(temp: str) -> None:
        onnx.save(converted["model"], temp)
        ctx.progress(0.8, "checking the output", force=True)
        proof.append(prove_output(temp, samples[0]))

    size = ctx.write_output(spec.output, write)
    ctx.log("wrote %s (%d bytes); %s" % (spec.output, size, proof[0]))
    return QuantizeResult(spec.output, "fp16", size, os.path.getsize(spec.model), kept_fp32=converted["kept_io"],
                          notes=notes, proof=proof[0])


def _int8(spec: QuantizeSpec, ctx: WorkerContext) -> QuantizeResult:
    from device_runtime.jobs.kinds.quantize_modelopt import choose
    from device_runtime.jobs.kinds.quantize_proof import refuse_nothing_to_gain, refuse_quantized

    ctx.progress(0.0, "reading the model", force=True)
    model = load_model(spec.model, load_external_data=False)
    refuse_quantized(model, spec.model, "int8")
    refuse_nothing_to_gain(model, spec.model, "int8")
    inputs = _inputs(model)
    ctx.progress(0.05, "loading calibration data", force=True)
    samples = _sample(spec, inputs, ctx)
    with tempfile.TemporaryDirectory(prefix="edge-quant-") as scratch:
        ctx.progress(0.08, "choosing the INT8 quantizer", force=True)
        choice = choose(spec.quantizer, spec.calibrate_method, spec.per_channel, inputs, ctx, scratch)
        quantized = os.path.join(scratch, "quantized.onnx")
        if choice.name == "modelopt":
            ctx.log("INT8 quantizer: NVIDIA ModelOpt %s under %s (%s)"
                    % (choice.versions.get("modelopt", "?"), choice.python, choice.reason))
            run = _modelopt_int8(spec, model, samples, inputs, choice, quantized, ctx, scratch)
        else:
            ctx.log("INT8 quantizer: ONNX Runtime (%s)" % choice.reason)
            run = _ort_int8(spec, samples, quantized, ctx, scratch)
        run.reason = choice.reason
        return _finish_int8(spec, model, samples, quantized, run, ctx)


class _Int8Run:
    """What one quantizer did: its name, version, why it ran, per-channel or not, and notes."""

    def __init__(self, quantizer: str, version: str, per_channel: bool, notes: List[str]) -> None:
        self.quantizer = quantizer
        self.version = version
        self.reason = ""
        self.per_channel = per_channel
        self.notes = notes


def _ort_int8(spec: QuantizeSpec, samples: List[Dict[str, Any]], quantized: str, ctx: WorkerContext,
              scratch: str) -> _Int8Run:
    import onnxruntime
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from device_runtime.jobs.kinds.quantize_int8 import opset_for_per_channel, quantize_int8

    notes: List[str] = []
    source, per_channel = spec.model, spec.per_channel
    if per_channel:
        source, per_channel, note = opset_for_per_channel(spec.model, scratch)
        if note:
            notes.append(note)
            ctx.log(note)
    prepared = os.path.join(scratch, "prepared.onnx")
    ctx.progress(0.1, "preparing the model (shape inference, folding)", force=True)
    try:
        quant_pre_process(source, prepared, skip_symbolic_shape=True)
    except Exception as exc:
        ctx.log("pre-processing skipped (%s); quantizing the model as it is" % str(exc)[:300])
        prepared = source
    quantize_int8(prepared, quantized, samples, per_channel, spec.calibrate_method, ctx)
    return _Int8Run("ort", onnxruntime.__version__, per_channel, notes)


def _modelopt_int8(spec: QuantizeSpec, model: Any, samples: List[Dict[str, Any]], inputs: List[InputDecl],
                   choice: Any, quantized: str, ctx: WorkerContext, scratch: str) -> _Int8Run:
    import onnx

    from device_runtime.jobs.kinds.quantize_int8 import default_opset
    from device_runtime.jobs.kinds.quantize_modelopt import has_per_channel_scales, quantize_modelopt

    versions = quantize_modelopt(spec.model, quantized, samples, inputs, spec.calibrate_method, choice, ctx, scratch)
    notes: List[str] = []
    written = onnx.load(quantized)
    before, after = default_opset(model), default_opset(written)
    if after != before:
        notes.append("opset upgraded from %d to %d by ModelOpt" % (before, after))
    per_channel = has_per_channel_scales(written)
    if not per_channel:
        notes.append("ModelOpt quantized every weight per tensor (its output has no per-channel scales)")
    ctx.log("ModelOpt ran with %s" % ", ".join("%s %s" % item for item in sorted(versions.items())))
    return _Int8Run("modelopt", versions.get("modelopt", choice.versions.get("modelopt", "")), per_channel, notes)


def _finish_int8(spec: QuantizeSpec, model: Any, samples: List[Dict[str, Any]], quantized: str, run: _Int8Run,
                 ctx: WorkerContext) -> QuantizeResult:
    """The same proof for every quantizer's output, then the output is written and the result made."""
    from device_runtime.jobs.kinds.qdq_rules import check_qdq
    from device_runtime.jobs.kinds.quantize_fp16 import topological_sort
    from device_runtime.jobs.kinds.quantize_int8 import require_quantized
    from device_runtime.jobs.kinds.quantize_proof import prove_output

    label = "NVIDIA ModelOpt" if run.quantizer == "modelopt" else "ONNX Runtime's quantizer"
    proof: List[str] = []
    findings: List[str] = []
    nodes: List[int] = []

    def write(temp: str) -> None:
        import onnx

        written = onnx.load(quantized)
        nodes.append(require_quantized(written, model, label))
        topological_sort(written.graph)  # the quantizer can leave If-bearing graphs out of order
        stamp(written, {"precision": "int8", "calibration": os.path.basename(spec.calibration or ""),
                        "samples": len(samples), "method": spec.calibrate_method, "per_channel": run.per_channel,
                        "preprocess": dict(spec.preprocess), "source": os.path.basename(spec.model),
                        "quantizer": run.quantizer, "quantizer_version": run.version})
        onnx.save(written, temp)
        ctx.progress(0.85, "checking the output", force=True)
        proof.append(prove_output(temp, samples[0]))
        findings.extend(check_qdq(onnx.load(temp, load_external_data=False)))
        if findings:
            raise JobFailed("the INT8 model from %s breaks TensorRT's Q/DQ rules, so TensorRT would not build it: "
                            "%s" % (label, "; ".join(findings[:5])))

    size = ctx.write_output(spec.output, write)
    ctx.log("wrote %s (%d bytes, %d quantized nodes, %s %s); %s"
            % (spec.output, size, nodes[0], label, run.version, proof[0]))
    return QuantizeResult(spec.output, "int8", size, os.path.getsize(spec.model), method=spec.calibrate_method,
                          calibration_samples=len(samples), quantized_nodes=nodes[0], notes=run.notes,
                          proof=proof[0], qdq_findings=findings, quantizer=run.quantizer,
                          quantizer_version=run.version, quantizer_reason=run.reason)
