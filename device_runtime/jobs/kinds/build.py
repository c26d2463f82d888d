"""build: a TensorRT engine from an ONNX model, through the Python API or trtexec.

All version decisions come from ``trt_plan.plan_build``; requests the device cannot honour
(no TensorRT, DLA on a board without it, precision flags on TensorRT 11, FP16 without fast
FP16, ...) are refused at submit time, before anything starts. An ONNX that already carries its
precision (Q/DQ from the quantize job, or FP16 weights) is built strongly typed. A dynamic input
needs an optimization profile: from ``--shape``, else the warm-up shapes of the package manifest
beside the model (fixed), else the build is refused naming the input. Progress is
phase-level (parsing, building, tactic timing, calibration, serializing) from TensorRT's log
lines; the daemon adds an ETA from earlier builds of the same model on this device. The timing
cache lives per board and TensorRT version (see ``engines.timing_cache``); the engine and its
identity record (``<engine>.meta.json``) are written under temp names and renamed.
TensorRT is imported here only, lazily; this path is tested with strict fakes built from the real
bindings' names (tests/engines/trt_names), not with a real TensorRT.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from device_runtime.engines.device_facts import device_facts
from device_runtime.engines.trt_plan import BuildPlan, BuildRequest, DeviceFacts, Refusal, ShapeProfile, plan_build
from device_runtime.jobs.kinds.base import JobFailed, JobKind, JobRefused, WorkerContext
from device_runtime.protocol import BuildResult, BuildSpec, Capabilities, Record

# Where each phase puts the progress bar; tactic timing creeps towards its end as lines arrive.
PHASE_START = {"parsing": 0.02, "building": 0.1, "calibration": 0.15, "tactic_timing": 0.2, "serializing": 0.9,
               "done": 0.97}
TACTIC_END = 0.88


def parse_profile(name: str, text: str) -> ShapeProfile:
    """``"1x3x64x64,4x3x64x64,8x3x64x64"`` (min,opt,max) or one shape for all three."""
    try:
        shapes = [tuple(int(d) for d in part.strip().split("x")) for part in text.split(",")]
    except ValueError:
        raise JobRefused("shape for %r must be MIN,OPT,MAX shapes like 1x3x64x64,4x3x64x64,8x3x64x64 (got %r)"
                         % (name, text)) from None
    if len(shapes) == 1:
        shapes *= 3
    if len(shapes) != 3:
        raise JobRefused("shape for %r needs one shape or three (min,opt,max), got %d" % (name, len(shapes)))
    return ShapeProfile(name, shapes[0], shapes[1], shapes[2])


ModelInputs = Dict[str, Sequence[Union[int, str]]]
_TRTEXEC_VERSION = re.compile(r"TensorRT version: (\S+)|\[TensorRT v(\d{4,6})\]")


def model_inputs(path: str) -> Tuple[ModelInputs, bool]:
    """The ONNX's graph inputs with their dims (dynamic ones as names or 0) and whether it has Q/DQ nodes."""
    from device_runtime.jobs.kinds.onnx_io import dims_of, load_model

    model = load_model(path, load_external_data=False)
    initializers = {init.name for init in model.graph.initializer}
    inputs: ModelInputs = {vi.name: [d if d is not None else 0 for d in dims_of(vi)]
                           for vi in model.graph.input if vi.name not in initializers}
    has_qdq = any(node.op_type in ("QuantizeLinear", "DequantizeLinear") for node in model.graph.node)
    return inputs, has_qdq


def with_manifest_shapes(spec: BuildSpec, inputs: ModelInputs) -> Tuple[BuildSpec, List[str]]:
    """``spec`` with a fixed profile from the package manifest for each dynamic input --shape left out."""
    from dataclasses import replace

    missing = [name for name, dims in inputs.items()
               if name not in spec.shapes and any(not isinstance(d, int) or d <= 0 for d in dims)]
    if not missing:
        return spec, []
    from device_runtime.jobs.kinds.package_inputs import package_inputs

    recorded = package_inputs(spec.model)
    found = {name: recorded.shapes[name] for name in missing if recorded and name in recorded.shapes}
    if recorded is None or not found:
        return spec, []
    profiles = dict(spec.shapes)
    profiles.update({name: "x".join(str(d) for d in dims) for name, dims in found.items()})
    note = ("profile from the warm-up shapes of package %s: %s (fixed; give --shape MIN,OPT,MAX for a range)"
            % (recorded.package, ", ".join("%s %s" % (n, "x".join(map(str, d))) for n, d in sorted(found.items()))))
    return replace(spec, shapes=profiles), [note]


def make_request(spec: BuildSpec, model_precision: str = "fp32", cache: Optional[str] = None,
                 inputs: Optional[ModelInputs] = None, has_qdq: Optional[bool] = None) -> BuildRequest:
    wanted = set(spec.precision)
    unknown = wanted - {"fp16", "int8", "best"}
    if unknown:
        raise JobRefused("unknown precision %s: use fp16, int8 or best (none: FP32, or what the ONNX carries)"
                         % ", ".join(sorted(unknown)))
    precision = "best" if "best" in wanted or {"fp16", "int8"} <= wanted else (wanted.pop() if wanted else "fp32")
    strongly_typed = False
    if not spec.precision and (model_precision in ("int8", "fp16", "mixed") or has_qdq):
        precision = "int8" if model_precision == "int8" or has_qdq else "fp16"
        strongly_typed = True
    return BuildRequest(
        onnx_path=spec.model,
        precision=precision,
        workspace_mib=spec.workspace_mb,
        opt_level=spec.opt_level,
        profiles=[parse_profile(name, text) for name, text in sorted(spec.shapes.items())],
        dla_core=spec.dla_core,
        version_compatible=spec.version_compatible,
        timing_cache_path=cache,
        strongly_typed=strongly_typed,
        engine_path=spec.output,
        inputs=inputs,
        has_qdq=has_qdq,
        route=spec.route,
    )


def _facts_or_refuse(caps: Capabilities) -> DeviceFacts:
    facts = device_facts(caps)
    if facts is None:
        raise JobRefused("this device has no TensorRT, so it cannot build engines. Build on the robot itself "
                         "(JetPack ships TensorRT), or benchmark the ONNX model with ONNX Runtime instead")
    return facts


def _plan(request: BuildRequest, facts: DeviceFacts) -> BuildPlan:
    plan = plan_build(request, facts)
    if isinstance(plan, Refusal):
        raise JobRefused(plan.reason)
    return plan


class BuildKind(JobKind):
    name = "build"
    gpu = True
    spec_type = BuildSpec

    def check(self, spec: Any, capabilities: Capabilities) -> None:
        assert isinstance(spec, BuildSpec)
        facts = _facts_or_refuse(capabilities)
        if spec.route not in ("api", "trtexec"):
            raise JobRefused("route must be api (TensorRT Python) or trtexec, not %r" % spec.route)
        if spec.calibration:
            raise JobRefused("INT8 calibration inside TensorRT is not offered (it is deprecated since 10.1 and gone "
                             "in 11): quantize the ONNX to Q/DQ with the quantize job and build that")
        _plan(make_request(spec), facts)

    def run(self, spec: Any, ctx: WorkerContext) -> Record:
        from device_runtime.engines.engine_meta import make_engine_meta, sha256_file
        from device_runtime.engines.timing_cache import TimingCacheStore
        from device_runtime.jobs.kinds.onnx_io import require_file
        from device_runtime.jobs.kinds.validate import model_precision

        assert isinstance(spec, BuildSpec)
        try:
            facts = _facts_or_refuse(ctx.capabilities)
        except JobRefused as exc:
            raise JobFailed(str(exc)) from None
        require_file(spec.model)
        ctx.progress(0.0, "hashing the model", force=True)
        digest = sha256_file(spec.model)
        ctx.meta(history_key="build:%s:%s:%s:%s:%s" % (digest, facts.board_model, facts.trt_version,
                                                       ",".join(sorted(spec.precision)), spec.route))
        cache, notes = TimingCacheStore(ctx.root).prepare(facts.board_model, facts.trt_version)
        for note in notes:
            ctx.log(note)
        inputs, has_qdq = model_inputs(spec.model)
        spec, manifest_notes = with_manifest_shapes(spec, inputs)
        notes.extend(manifest_notes)
        for note in manifest_notes:
            ctx.log(note)
        request = make_request(spec, model_precision(spec.model), cache, inputs, has_qdq)
        try:
            plan = _plan(request, facts)
        except JobRefused as exc:
            raise JobFailed(str(exc)) from None
        for step in plan.steps():
            ctx.log("plan: %s" % step)
        started = time.monotonic()
        warnings: List[str] = []
        if spec.route == "trtexec":
            size = _build_trtexec(spec, request, plan, ctx, facts.trt_version, warnings)
        else:
            size = _build_api(spec, plan, ctx)
        meta = make_engine_meta(plan, facts, digest)
        ctx.write_output(spec.output + ".meta.json", lambda temp: _write_text(temp, meta.to_json()))
        ctx.progress(1.0, "done", force=True)
        return BuildResult(
            output=spec.output,
            engine_bytes=size,
            tensorrt=facts.trt_version,
            route=spec.route,
            build_s=time.monotonic() - started,
            precision=[plan.precision],
            dla_core=plan.dla_core,
            compute_capability=facts.compute_capability,
            timing_cache=cache,
            warnings=list(plan.notes) + notes + warnings,
        )


def _write_text(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


class _Progress:
    """TensorRT log lines -> phase-level progress and job log lines."""

    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self.fraction = 0.0
        self.tactics = 0
        self.failure: Optional[str] = None
        self.tool_version: Optional[str] = None

    def line(self, text: str) -> None:
        from device_runtime.engines.trtexec_progress import classify_progress_line

        self.ctx.log(text)
        version = _TRTEXEC_VERSION.search(text)
        if version and self.tool_version is None:
            self.tool_version = version.group(1) or version.group(2)
        progress = classify_progress_line(text)
        if progress is None:
            return
        if progress.phase == "failed":
            self.failure = progress.detail
            return
        start = PHASE_START.get(progress.phase)
        if start is None:
            return
        fraction = max(self.fraction, start)
        if progress.phase == "tactic_timing":
            self.tactics += 1
            fraction = max(fraction, TACTIC_END - (TACTIC_END - start) * 0.995 ** self.tactics)
        elif progress.phase == "calibration" and progress.fraction is not None:
            fraction = max(fraction, start + (PHASE_START["tactic_timing"] - start) * progress.fraction)
        self.fraction = fraction
        self.ctx.progress(fraction, progress.phase.replace("_", " ") + (": " + progress.detail[:80]
                                                                         if progress.detail else ""))


def version_mismatch(tool: Optional[str], python_trt: str) -> Optional[str]:
    """A warning when trtexec's TensorRT is not the Python bindings' TensorRT (two installs side by side)."""
    from device_runtime.engines.trt_version import TrtVersion

    found, expected = TrtVersion.parse(tool or ""), TrtVersion.parse(python_trt)
    if found is None or expected is None or found.short == expected.short:
        return None
    return ("trtexec runs TensorRT %s but the Python bindings are TensorRT %s: the engine is for %s, and the "
            "runtime that loads it must match; put the matching trtexec first on PATH or use the api route"
            % (found, expected, found))


def _build_trtexec(spec: BuildSpec, request: BuildRequest, plan: BuildPlan, ctx: WorkerContext, python_trt: str,
                   warnings: List[str]) -> int:
    from device_runtime.engines.trtexec_cmd import build_command
    from device_runtime.jobs.kinds.trtexec_run import find_trtexec, run_streaming

    request.precision, request.strongly_typed = plan.precision, plan.strongly_typed
    trtexec = find_trtexec(ctx.env)
    temp = ctx.temp_path(spec.output)
    argv = build_command(request, plan.trt_version, temp, trtexec)
    ctx.log("$ " + " ".join(argv))
    progress = _Progress(ctx)
    code = run_streaming(argv, progress.line, ctx.env)
    mismatch = version_mismatch(progress.tool_version, python_trt)
    if mismatch:
        ctx.log("warning: " + mismatch)
        warnings.append(mismatch)
    if code != 0 or progress.failure or not os.path.exists(temp):
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise JobFailed("trtexec could not build the engine: %s. See the job log."
                        % (progress.failure or "exit code %d" % code))
    os.replace(temp, spec.output)
    return os.path.getsize(spec.output)


def _trt_logger(trt: Any, progress: _Progress) -> Any:
    base = getattr(trt, "ILogger", None)
    if base is None:
        return trt.Logger(trt.Logger.WARNING)

    class _Logger(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()

        def log(self, severity: Any, msg: str) -> None:
            progress.line(str(msg))

    return _Logger()


def _build_api(spec: BuildSpec, plan: BuildPlan, ctx: WorkerContext) -> int:
    from device_runtime.engines.trt_adapter import TrtBuildError, build_engine

    try:
        import tensorrt as trt
    except Exception as exc:
        raise JobFailed("TensorRT %s is listed on this device but does not import (%s): check the install, or "
                        "use the trtexec route" % (ctx.capabilities.tensorrt, exc)) from None
    progress = _Progress(ctx)
    ctx.progress(PHASE_START["parsing"], "parsing", force=True)
    try:
        data = build_engine(trt, plan, spec.model, logger=_trt_logger(trt, progress))
    except TrtBuildError as exc:
        raise JobFailed("TensorRT could not build the engine: %s" % exc) from None
    ctx.progress(PHASE_START["serializing"], "serializing", force=True)
    return ctx.write_output(spec.output, lambda temp: _write_bytes(temp, data))


def _write_bytes(path: str, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)


