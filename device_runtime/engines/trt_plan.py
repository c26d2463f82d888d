"""Decide, without TensorRT, how a build request maps onto one TensorRT generation's API.

``plan_build(request, facts)`` returns a :class:`BuildPlan` (the concrete API choices the adapter
applies) or a :class:`Refusal` with a sentence an operator can act on. Version facts come from
NVIDIA's TensorRT release notes and the NVIDIA/TensorRT Python bindings (``python/src/infer/pyCore.cpp``):

* ``set_memory_pool_limit`` exists from 8.4 (``max_workspace_size`` is deprecated there and
  removed in 10.0); ``builder_optimization_level``, ``VERSION_COMPATIBLE`` and
  ``Runtime.engine_host_code_allowed`` from 8.6; ``STRONGLY_TYPED`` from 10.0.
* 8.x networks need ``1 << EXPLICIT_BATCH``; 10.x ignores it (``create_network(0)``); 11.x has no
  such flag and every network is strongly typed.
* 11.0 removed ``BuilderFlag.FP16/INT8/...`` and the INT8 calibrator; DLA is absent in 11.0-11.4.0
  and back in 11.4.1 (AGX Orin, JetPack 7.2.2+). Calibrators are deprecated from 10.1.
* A network with a dynamic input builds only with an optimization profile for it ("Network has
  dynamic or shape inputs, but no optimization profile has been defined"), so a build without a
  shape for every dynamic input is refused here, naming them.
* INT8 without a calibrator or Q/DQ nodes has no scales: the builder fails ("Calibration failure
  occurred with no scaling factors detected") and trtexec ``--int8``/``--best`` silently uses
  placeholder ranges, so such a build is refused rather than labelled int8.
* A Q/DQ ONNX builds strongly typed on 10.x; 8.x has no strong typing, so its Q/DQ builds set
  INT8 and also FP16, or every layer outside the Q/DQ pairs would run in FP32.
* trtexec 10.x sets ``kFP16`` and ``kPREFER_PRECISION_CONSTRAINTS`` on every DLA build
  (``samples/common/sampleEngines.cpp``, ``setupNetworkAndConfig``), which a strongly typed network
  rejects: DLA with strong typing goes through the API route on 10.x.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence, Tuple, Union

from device_runtime.engines.trt_version import TrtVersion

PRECISIONS = ("fp32", "fp16", "int8", "best")
SUPPORTED = "8.5, 8.6, 10.x and 11.x"
Shape = Tuple[int, ...]


@dataclass(frozen=True)
class ShapeProfile:
    """One dynamic input's optimization-profile shapes."""

    input_name: str
    min: Shape
    opt: Shape
    max: Shape


@dataclass
class BuildRequest:
    onnx_path: str
    precision: str = "fp32"
    workspace_mib: Optional[int] = None
    opt_level: Optional[int] = None
    profiles: List[ShapeProfile] = field(default_factory=list)
    dla_core: Optional[int] = None
    version_compatible: bool = False
    timing_cache_path: Optional[str] = None
    # The ONNX already carries its precision (Cast / Q-DQ nodes, e.g. from the quantize job).
    strongly_typed: bool = False
    # Implicit INT8 quantization with a calibrator (TensorRT <= 10.x only).
    use_calibrator: bool = False
    engine_path: Optional[str] = None
    # The ONNX inputs' dims (a str or a non-positive int is dynamic); None when not read.
    inputs: Optional[Dict[str, Sequence[Union[int, str]]]] = None
    # The ONNX holds QuantizeLinear / DequantizeLinear nodes (its INT8 scales); None: not read yet.
    has_qdq: Optional[bool] = False
    route: str = "api"


@dataclass
class DeviceFacts:
    trt_version: str
    compute_capability: str
    dla_cores: int = 0
    has_fast_fp16: bool = True
    board_model: str = ""
    l4t: Optional[str] = None
    jetpack: Optional[str] = None


@dataclass
class Refusal:
    reason: str
    code: str


@dataclass
class BuildPlan:
    trt_version: TrtVersion
    generation: str
    network_flags: List[str]
    workspace_api: Optional[str]
    workspace_bytes: Optional[int]
    builder_flags: List[str]
    use_calibrator: bool
    optimization_level: Optional[int]
    timing_cache_path: Optional[str]
    timing_cache_ignore_mismatch: bool
    profiles: List[ShapeProfile]
    dla_core: Optional[int]
    engine_host_code_allowed: bool
    precision: str
    strongly_typed: bool
    notes: List[str] = field(default_factory=list)

    def steps(self) -> List[str]:
        """The API calls in the order the adapter makes them, for logs and the console."""
        out = ["create_network(%s)" % (" | ".join(self.network_flags) or "0"), "OnnxParser.parse"]
        if self.workspace_api == "set_memory_pool_limit":
            out.append("config.set_memory_pool_limit(WORKSPACE, %d)" % (self.workspace_bytes or 0))
        elif self.workspace_api:
            out.append("config.max_workspace_size = %d" % (self.workspace_bytes or 0))
        out.extend("config.set_flag(%s)" % flag for flag in self.builder_flags)
        if self.use_calibrator:
            out.append("config.int8_calibrator = <calibrator>")
        if self.optimization_level is not None:
            out.append("config.builder_optimization_level = %d" % self.optimization_level)
        if self.dla_core is not None:
            out.append("config.default_device_type = DLA; config.DLA_core = %d" % self.dla_core)
        if self.profiles:
            out.append("config.add_optimization_profile(%s)" % ", ".join(p.input_name for p in self.profiles))
        if self.timing_cache_path:
            out.append("config.set_timing_cache(ignore_mismatch=%s)" % self.timing_cache_ignore_mismatch)
        out.append("builder.build_serialized_network")
        return out


def generation_of(version: TrtVersion) -> Optional[str]:
    if version.major == 8 and version.minor in (5, 6):
        return "8.%d" % version.minor
    if version.major in (10, 11):
        return "%d" % version.major
    return None


def _refuse(code: str, reason: str) -> Refusal:
    return Refusal(reason=reason, code=code)


def _dynamic(dims: Sequence[Union[int, str]]) -> bool:
    return any(not isinstance(d, int) or d <= 0 for d in dims)


def _check_profiles(request: BuildRequest) -> Optional[Refusal]:
    if request.inputs is None:
        return None
    unknown = sorted(p.input_name for p in request.profiles if p.input_name not in request.inputs)
    if unknown:
        return _refuse("profile", "the model has no input %s (its inputs: %s)" % (
            ", ".join(unknown), ", ".join(sorted(request.inputs))))
    shaped = {p.input_name for p in request.profiles}
    missing = [(name, list(dims)) for name, dims in sorted(request.inputs.items())
               if _dynamic(dims) and name not in shaped]
    if not missing:
        return None
    name, dims = missing[0]
    example = ",".join("x".join(str(d) if isinstance(d, int) and d > 0 else str(n) for d in dims) for n in (1, 4, 8))
    return _refuse("profile", "the model's input%s %s %s dynamic dimensions, and TensorRT builds those only with an "
                   "optimization profile: give a shape for %s as NAME:MIN,OPT,MAX (e.g. --shape %s:%s)" % (
                       "s" if len(missing) > 1 else "", ", ".join("%s %s" % item for item in missing),
                       "have" if len(missing) > 1 else "has", "each" if len(missing) > 1 else "it", name, example))


def _check_request(request: BuildRequest, version: TrtVersion, facts: DeviceFacts) -> Optional[Refusal]:
    if request.precision not in PRECISIONS:
        return _refuse("precision", "unknown precision %r (use one of %s)" % (request.precision, ", ".join(PRECISIONS)))
    if request.workspace_mib is not None and request.workspace_mib <= 0:
        return _refuse("workspace", "the workspace must be a positive number of MiB")
    if request.opt_level is not None:
        if not 0 <= request.opt_level <= 5:
            return _refuse("opt_level", "the builder optimization level is 0 to 5 (default 3)")
        if not version.at_least(8, 6):
            return _refuse("opt_level", "builder optimization levels need TensorRT 8.6+ (device has %s)" % version)
    if request.version_compatible and not version.at_least(8, 6):
        reason = "version-compatible engines need TensorRT 8.6 or newer (device has %s)" % version
        return _refuse("version_compatible", reason)
    refusal = _check_profiles(request)
    if refusal is not None:
        return refusal
    for profile in request.profiles:
        ranks = {len(profile.min), len(profile.opt), len(profile.max)}
        ordered = len(ranks) == 1 and all(
            profile.min[i] <= profile.opt[i] <= profile.max[i] for i in range(len(profile.min))
        )
        if not ordered:
            return _refuse("profile", "profile for %r needs min <= opt <= max of equal rank" % profile.input_name)
    weak = request.precision != "fp32" and not request.strongly_typed
    if version.major >= 11:
        if weak:
            return _refuse(
                "strongly_typed",
                "TensorRT 11 is strongly typed: quantize the ONNX first (quantize job: FP16 with ModelOpt "
                "AutoCast, INT8 as Q/DQ nodes) and build it as is; the %s builder flag no longer exists"
                % request.precision.upper(),
            )
        if request.use_calibrator:
            reason = "TensorRT 11 removed the INT8 calibrator: quantize the ONNX to Q/DQ first (quantize job)"
            return _refuse("calibrator", reason)
    if request.precision in ("fp16", "best") and not facts.has_fast_fp16 and weak:
        reason = "this GPU (compute capability %s) has no fast FP16; build FP32 or INT8" % facts.compute_capability
        return _refuse("fp16", reason)
    if request.precision in ("int8", "best") and weak and not request.use_calibrator and request.has_qdq is False:
        return _refuse("int8", "%s needs INT8 scales and this ONNX has no Q/DQ nodes: quantize it first (quantize "
                       "job, INT8 with calibration data) and build that; without scales TensorRT %s would fail or "
                       "use placeholder ranges" % ("--best" if request.precision == "best" else "INT8", version))
    if request.use_calibrator and request.precision not in ("int8", "best"):
        return _refuse("calibrator", "a calibrator only applies to INT8 builds")
    return _check_dla(request, version, facts)


def _check_dla(request: BuildRequest, version: TrtVersion, facts: DeviceFacts) -> Optional[Refusal]:
    if request.dla_core is None:
        return None
    board = facts.board_model or "this board"
    if facts.dla_cores <= 0:
        return _refuse("dla", "%s has no DLA cores (Orin Nano and Thor have none); build for the GPU" % board)
    if not 0 <= request.dla_core < facts.dla_cores:
        reason = "%s has %d DLA core(s); core %d does not exist" % (board, facts.dla_cores, request.dla_core)
        return _refuse("dla", reason)
    if version.major == 11 and not version.at_least(11, 4, 1):
        reason = "TensorRT %s has no DLA support (11.0-11.4.0); DLA returns in 11.4.1 on JetPack 7.2.2+" % version
        return _refuse("dla", reason)
    if version.major == 10 and version.at_least(10, 8):
        return _refuse("dla", "TensorRT 10.7 was the last 10.x release with DLA (device has %s)" % version)
    if request.precision == "fp32" and not request.strongly_typed:
        return _refuse("dla", "DLA runs FP16 or INT8 only; choose fp16 or int8 for a DLA build")
    if request.strongly_typed and version.major == 10 and request.route == "trtexec":
        return _refuse("dla", "trtexec %s turns on FP16 and precision constraints for every DLA build, which a "
                       "strongly typed network (this ONNX carries its precision) refuses: use the api route" % version)
    return None


def _normalized(request: BuildRequest, version: TrtVersion) -> BuildRequest:
    """A Q/DQ model asked for int8 or best builds strongly typed on 10.x: its Q/DQ nodes are the precision."""
    if request.has_qdq is True and request.precision in ("int8", "best") and version.major >= 10:
        return replace(request, strongly_typed=True)
    return request


def plan_build(request: BuildRequest, facts: DeviceFacts) -> Union[BuildPlan, Refusal]:
    version = TrtVersion.parse(facts.trt_version)
    if version is None:
        return _refuse("version", "cannot read the TensorRT version %r" % facts.trt_version)
    generation = generation_of(version)
    if generation is None:
        return _refuse("version", "TensorRT %s is not supported for builds (supported: %s)" % (version, SUPPORTED))
    request = _normalized(request, version)
    refusal = _check_request(request, version, facts)
    if refusal is not None:
        return refusal
    notes: List[str] = []
    flags: List[str] = []
    weak = request.precision != "fp32" and not (request.strongly_typed and version.major >= 10)
    if weak:
        flags.extend({"fp16": ["FP16"], "int8": ["INT8"], "best": ["FP16", "INT8"]}[request.precision])
    if version.major == 8 and request.precision in ("int8", "best") and (request.has_qdq or request.strongly_typed):
        flags = ["FP16", "INT8"]
        notes.append("TensorRT 8.x Q/DQ build: INT8 where the Q/DQ nodes say, FP16 allowed for the other layers")
    elif request.strongly_typed and version.major < 10:
        notes.append("TensorRT 8.x has no strongly typed networks: Q/DQ or Cast nodes are honoured with builder flags")
    if request.use_calibrator and version.at_least(10, 1):
        notes.append("INT8 calibrators are deprecated since TensorRT 10.1 and removed in 11.0: prefer a Q/DQ ONNX")
    if version.at_least(10, 12) and weak:
        notes.append("weak typing (precision builder flags) is deprecated since TensorRT 10.12")
    if request.dla_core is not None:
        flags.append("GPU_FALLBACK")
    if request.version_compatible:
        flags.append("VERSION_COMPATIBLE")
        notes.append("version-compatible engines run on newer TensorRT of the same major only, and run slower")
    if version.major == 8:
        network_flags = ["EXPLICIT_BATCH"]
    elif version.major == 10:
        network_flags = ["STRONGLY_TYPED"] if request.strongly_typed else []
    else:
        network_flags = []  # 11.x: strongly typed is implicit, the flag enum is gone
    workspace = request.workspace_mib * 1024 * 1024 if request.workspace_mib else None
    workspace_api = None
    if workspace:
        workspace_api = "set_memory_pool_limit" if version.at_least(8, 4) else "max_workspace_size"
    return BuildPlan(
        trt_version=version,
        generation=generation,
        network_flags=network_flags,
        workspace_api=workspace_api,
        workspace_bytes=workspace,
        builder_flags=flags,
        use_calibrator=request.use_calibrator,
        optimization_level=request.opt_level,
        timing_cache_path=request.timing_cache_path,
        timing_cache_ignore_mismatch=True,
        profiles=list(request.profiles),
        dla_core=request.dla_core,
        engine_host_code_allowed=request.version_compatible,
        precision=request.precision,
        strongly_typed=request.strongly_typed or version.major >= 11,
        notes=notes,
    )


def describe_plan(plan: BuildPlan) -> Dict[str, object]:
    return {
        "trt_version": str(plan.trt_version),
        "generation": plan.generation,
        "steps": plan.steps(),
        "notes": plan.notes,
    }
