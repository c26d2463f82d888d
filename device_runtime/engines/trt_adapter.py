"""One small adapter over the TensorRT Python API (8.5, 8.6, 10.x, 11.x).

It applies a :class:`~device_runtime.engines.trt_plan.BuildPlan` (all version decisions are made
there) to a ``trt`` module object passed in, and enumerates / binds engine I/O. It is written
against the documented APIs (NVIDIA/TensorRT ``python/src/infer/pyCore.cpp`` at 8.5.1, 8.6.1,
10.0.0 and 11.1, and NVIDIA's TensorRT API migration guides). ``TRT_NAMES`` lists every TensorRT name used here and by
the other modules that touch a ``trt`` module, with the versions that need it; the tests check
each against the names the real bindings wheels of 8.6.1, 10.0.1, 10.13.3 and 11.1 register, and
run this code on strict fakes built from those names. It has not been run against a real
TensorRT here. ``tensorrt`` is never imported by this module: callers do ``import tensorrt as
trt`` lazily and pass it in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from device_runtime.engines.trt_plan import BuildPlan
from device_runtime.engines.trt_version import TrtVersion, require_version
from device_runtime.fileio import write_atomic

Shape = Tuple[int, ...]
Since = Tuple[int, int]
ALWAYS: Tuple[Since, Since] = ((8, 5), (99, 0))

# Every TensorRT attribute read or written through a ``trt`` module, mapped to the versions
# [from, until) in which the code uses it (the code never touches it outside that range).
TRT_NAMES: Dict[str, Tuple[Since, Since]] = {
    name: ALWAYS for name in (
        "__version__", "Logger", "ILogger", "WARNING", "Builder", "OnnxParser", "Runtime",
        "NetworkDefinitionCreationFlag", "BuilderFlag", "MemoryPoolType", "WORKSPACE", "DeviceType", "DLA",
        "TensorIOMode", "INPUT",
        "create_network", "create_builder_config", "create_optimization_profile", "set_shape",
        "add_optimization_profile", "parse_from_file", "num_errors", "get_error", "set_memory_pool_limit",
        "set_flag", "builder_optimization_level", "default_device_type", "DLA_core", "create_timing_cache",
        "set_timing_cache", "get_timing_cache", "serialize", "build_serialized_network", "deserialize_cuda_engine",
        "engine_host_code_allowed", "num_io_tensors", "get_tensor_name", "get_tensor_mode", "get_tensor_shape",
        "get_tensor_dtype", "create_execution_context", "set_input_shape", "set_tensor_address",
        "execute_async_v3", "GPU_FALLBACK", "VERSION_COMPATIBLE", "ERROR", "log",
    )
}
TRT_NAMES.update({name: ((7, 0), (8, 5)) for name in (
    "num_bindings", "get_binding_name", "binding_is_input", "get_binding_shape", "get_binding_dtype",
    "get_binding_index", "set_binding_shape", "execute_async_v2")})
TRT_NAMES.update({
    "EXPLICIT_BATCH": ((8, 5), (10, 0)),
    "STRONGLY_TYPED": ((10, 0), (11, 0)),
    "int8_calibrator": ((8, 5), (11, 0)),
    # Before 8.4 (workspace) and 8.5 (binding-index I/O): JetPack 4/5 releases with no PyPI wheel to check.
    "max_workspace_size": ((7, 0), (8, 4)),
    "FP16": ((8, 5), (11, 0)),
    "INT8": ((8, 5), (11, 0)),
})


class TrtBuildError(RuntimeError):
    """The parser or the builder said no; the message carries TensorRT's own words."""


@dataclass(frozen=True)
class IoTensor:
    name: str
    is_input: bool
    shape: Shape
    dtype: str


def module_version(trt: Any) -> TrtVersion:
    return require_version(str(trt.__version__))


def _network_flags(trt: Any, names: Sequence[str]) -> int:
    flags = 0
    for name in names:
        flags |= 1 << int(getattr(trt.NetworkDefinitionCreationFlag, name))
    return flags


def _error_tap(trt: Any, logger: Any, sink: List[str]) -> Any:
    """A logger that forwards everything to ``logger`` and keeps the builder's error lines for the message."""
    base = getattr(trt, "ILogger", None)
    if base is None:
        return logger

    class _Tap(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()

        def log(self, severity: Any, msg: str) -> None:
            if int(severity) <= int(trt.Logger.ERROR):
                sink.append(str(msg))
            logger.log(severity, msg)

    return _Tap()


def _parse_onnx(trt: Any, network: Any, logger: Any, onnx_path: str) -> Any:
    parser = trt.OnnxParser(network, logger)
    # parse_from_file resolves external weights next to the model.
    if not parser.parse_from_file(onnx_path):
        errors = [str(parser.get_error(index)) for index in range(parser.num_errors)]
        raise TrtBuildError("ONNX parse failed: " + ("; ".join(errors) or "no parser error given"))
    return parser


def _read_cache(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return b""


def _configure(trt: Any, builder: Any, config: Any, plan: BuildPlan, calibrator: Optional[Any]) -> None:
    if plan.workspace_bytes:
        if plan.workspace_api == "set_memory_pool_limit":
            config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, plan.workspace_bytes)
        else:
            config.max_workspace_size = plan.workspace_bytes
    for flag in plan.builder_flags:
        config.set_flag(getattr(trt.BuilderFlag, flag))
    if plan.use_calibrator:
        if calibrator is None:
            raise TrtBuildError("the plan asks for INT8 calibration but no calibrator was given")
        config.int8_calibrator = calibrator
    if plan.optimization_level is not None:
        config.builder_optimization_level = plan.optimization_level
    if plan.dla_core is not None:
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = plan.dla_core
    if plan.profiles:
        profile = builder.create_optimization_profile()
        for shapes in plan.profiles:
            profile.set_shape(shapes.input_name, shapes.min, shapes.opt, shapes.max)
        config.add_optimization_profile(profile)


def build_engine(
    trt: Any,
    plan: BuildPlan,
    onnx_path: str,
    logger: Optional[Any] = None,
    calibrator: Optional[Any] = None,
) -> bytes:
    """Build and return the serialized plan; loads and saves the plan's timing cache if any."""
    installed = module_version(trt)
    if (installed.major, installed.minor) != (plan.trt_version.major, plan.trt_version.minor):
        raise TrtBuildError("plan made for TensorRT %s but the module is %s" % (plan.trt_version, installed))
    errors: List[str] = []
    logger = _error_tap(trt, logger if logger is not None else trt.Logger(trt.Logger.WARNING), errors)
    builder = trt.Builder(logger)
    network = builder.create_network(_network_flags(trt, plan.network_flags))
    parser = _parse_onnx(trt, network, logger, onnx_path)
    config = builder.create_builder_config()
    _configure(trt, builder, config, plan, calibrator)
    if plan.timing_cache_path:
        cache = config.create_timing_cache(_read_cache(plan.timing_cache_path))
        config.set_timing_cache(cache, ignore_mismatch=plan.timing_cache_ignore_mismatch)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise TrtBuildError("TensorRT could not build the engine: %s" % ("; ".join(errors) or "see the builder log"))
    if plan.timing_cache_path:
        write_atomic(plan.timing_cache_path, bytes(config.get_timing_cache().serialize()))
    del parser
    return bytes(serialized)


def load_engine(trt: Any, plan_bytes: bytes, logger: Optional[Any] = None, version_compatible: bool = False) -> Any:
    """Deserialize a plan; version-compatible plans embed a lean runtime that must be allowed."""
    runtime = trt.Runtime(logger if logger is not None else trt.Logger(trt.Logger.WARNING))
    if version_compatible:
        runtime.engine_host_code_allowed = True
    engine = runtime.deserialize_cuda_engine(plan_bytes)
    if engine is None:
        raise TrtBuildError("TensorRT could not deserialize the engine (wrong version or GPU?)")
    return engine


def uses_name_api(trt: Any) -> bool:
    """Name-based I/O (``num_io_tensors``...) exists from 8.5; the binding-index API is gone in 10.0."""
    return module_version(trt).at_least(8, 5)


def list_io_tensors(trt: Any, engine: Any) -> List[IoTensor]:
    tensors: List[IoTensor] = []
    if uses_name_api(trt):
        for index in range(engine.num_io_tensors):
            name = engine.get_tensor_name(index)
            is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            tensors.append(
                IoTensor(name, is_input, tuple(engine.get_tensor_shape(name)), str(engine.get_tensor_dtype(name)))
            )
        return tensors
    for index in range(engine.num_bindings):
        tensors.append(
            IoTensor(
                engine.get_binding_name(index),
                bool(engine.binding_is_input(index)),
                tuple(engine.get_binding_shape(index)),
                str(engine.get_binding_dtype(index)),
            )
        )
    return tensors


def enqueue(
    trt: Any,
    engine: Any,
    context: Any,
    addresses: Mapping[str, int],
    stream_handle: int,
    input_shapes: Optional[Mapping[str, Shape]] = None,
) -> None:
    """Bind device pointers by tensor name and enqueue one inference on ``stream_handle``."""
    shapes: Dict[str, Shape] = dict(input_shapes or {})
    if uses_name_api(trt):
        for name, shape in shapes.items():
            context.set_input_shape(name, shape)
        for name, pointer in addresses.items():
            context.set_tensor_address(name, pointer)
        ok = context.execute_async_v3(stream_handle)
    else:
        bindings = [0] * engine.num_bindings
        for name, pointer in addresses.items():
            index = engine.get_binding_index(name)
            if name in shapes:
                context.set_binding_shape(index, shapes[name])
            bindings[index] = pointer
        ok = context.execute_async_v2(bindings, stream_handle)
    if not ok:
        raise TrtBuildError("TensorRT refused to enqueue the inference")
