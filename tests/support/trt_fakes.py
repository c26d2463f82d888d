"""Strict fake ``tensorrt`` modules built from what the real bindings wheels register.

``make_trt(version)`` stands for the recorded wheel of that version (``trt_record.record_for``):
every class, method, property and enum member it exposes is checked, when the fake is made, to be
a name the real wheel registers (``trt_names/<version>.txt``); enum members and their values come
from that version's headers (``trt_names/enums.json``), so ``BuilderFlag.FP16`` is missing on 11.x
and ``NetworkDefinitionCreationFlag.STRONGLY_TYPED`` is ``1`` on 10.x and ``0`` on 11.x.

Where real TensorRT says no, so does the fake, in the way TensorRT says it: ``set_flag`` takes only
a ``BuilderFlag`` member (pybind11 raises ``TypeError`` on a bare int); ``build_serialized_network``
logs an error and returns None for a network with dynamic inputs and no optimization profile for
them, for INT8 without a calibrator or Q/DQ nodes, and for precision flags on a strongly typed
network; an execution context refuses to enqueue until every I/O tensor has an address and every
dynamic input a shape. The parser reads the real ONNX file for its inputs and Q/DQ nodes. Every call
lands in ``module.calls``; builder errors in ``module.errors``. Nothing here is TensorRT.
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from typing import Any

from tests.support.trt_record import enum_values, record_for, registers

PRECISION_FLAGS = ("FP16", "INT8", "BF16", "FP8", "INT4", "FP4")
NO_PROFILE = ("Error Code 4: API Usage Error (Network has dynamic or shape inputs, but no optimization profile "
              "has been defined.)")
NO_SCALES = ("Error Code 2: Internal Error (Calibration failure occurred with no scaling factors detected. This "
             "could be due to no int8 calibrator or insufficient custom scales for network layers.)")


class FakeMember(int):
    """A pybind11 enum member: compares and converts as its int, prints as ``Enum.NAME``."""

    enum: str
    name: str

    def __new__(cls, enum: str, name: str, value: int) -> FakeMember:
        member = super().__new__(cls, value)
        member.enum, member.name = enum, name
        return member

    def __str__(self) -> str:
        return "%s.%s" % (self.enum, self.name)

    __repr__ = __str__


def _enum(record: str, enum: str) -> types.SimpleNamespace:
    members = {name: FakeMember(enum, name, value) for name, value in enum_values(record, enum).items()}
    missing = [name for name in members if not registers(record, name)]
    assert not missing, "%s.%s not registered by the %s wheel" % (enum, missing, record)
    return types.SimpleNamespace(**members)


def _check_names(record: str, *classes: type) -> None:
    """A fake may only expose names the real wheel registers."""
    for cls in classes:
        own = [n for klass in cls.__mro__[:-1] for n in vars(klass) if not n.startswith("_")]
        public = [cls.__name__, *own, *getattr(cls, "_allowed", ())]
        invented = [name for name in public if not registers(record, name)]
        assert not invented, "fake %s exposes %s, unknown to TensorRT %s" % (cls.__name__, invented, record)


class _Recorder:
    """Attribute writes are allowed for the names in ``_allowed`` only, and recorded."""

    _allowed: tuple[str, ...] = ()

    def __init__(self, calls: list[tuple[Any, ...]], name: str) -> None:
        object.__setattr__(self, "_calls", calls)
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_values", {})

    def __setattr__(self, key: str, value: Any) -> None:
        if key not in self._allowed:
            raise AttributeError("%s has no attribute %r in this TensorRT version" % (self._name, key))
        self._values[key] = value
        self._calls.append(("%s.%s=" % (self._name, key), value))

    def __getattr__(self, key: str) -> Any:
        values = object.__getattribute__(self, "_values")
        if key in values:
            return values[key]
        raise AttributeError(key)


class FakeTimingCache:
    def serialize(self) -> bytes:
        return b"CACHE"


class FakeNetwork:
    """What the parser learnt from the ONNX: inputs with -1 for dynamic dims, and whether it has Q/DQ."""

    def __init__(self, flags: int, strongly_typed: bool) -> None:
        self.flags = flags
        self.strongly_typed = strongly_typed
        self.inputs: dict[str, tuple[int, ...]] = {}
        self.has_qdq = False


class FakeParserError:
    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


def _read_onnx(path: str, network: FakeNetwork) -> str | None:
    import onnx

    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as exc:
        return "Failed to parse ONNX model from file: %s (%s)" % (path, exc)
    initializers = {init.name for init in model.graph.initializer}
    for vi in model.graph.input:
        if vi.name not in initializers:
            dims = vi.type.tensor_type.shape.dim
            network.inputs[vi.name] = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in dims)
    network.has_qdq = any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in model.graph.node)
    return None


def make_trt(version: str, parse_errors: Sequence[str] = (), io_dtype: str = "FLOAT") -> types.SimpleNamespace:
    """The fake of ``version``; ``parse_errors``: real parser error texts the parser reports instead;
    ``io_dtype``: the ``DataType`` member of the engines' I/O tensors (``BF16`` exists from 10.0)."""
    record = record_for(version)
    major = int(record.split(".", maxsplit=1)[0])
    calls: list[tuple[Any, ...]] = []
    errors: list[str] = []
    trt = types.SimpleNamespace(__version__=version, calls=calls, errors=errors, record=record)
    for enum in ("NetworkDefinitionCreationFlag", "BuilderFlag", "MemoryPoolType", "DeviceType", "TensorIOMode",
                 "DataType"):
        setattr(trt, enum, _enum(record, enum))
    net_flag_values = {int(m): m for m in vars(trt.NetworkDefinitionCreationFlag).values()}

    class ILogger:
        def log(self, severity: Any, msg: str) -> None:
            pass

    class Logger(ILogger):
        INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = 0, 1, 2, 3, 4

        def __init__(self, severity: int = 2) -> None:
            calls.append(("Logger", severity))

    config_attrs: tuple[str, ...] = ("default_device_type", "DLA_core", "builder_optimization_level")
    if major <= 10:
        config_attrs += ("int8_calibrator",)
    if major == 8:
        config_attrs += ("max_workspace_size",)

    class IBuilderConfig(_Recorder):
        _allowed = config_attrs

        def __init__(self) -> None:
            super().__init__(calls, "config")
            object.__setattr__(self, "flags", set())
            object.__setattr__(self, "profiles", [])

        def set_memory_pool_limit(self, pool: FakeMember, size: int) -> None:
            if not isinstance(pool, FakeMember) or pool.enum != "MemoryPoolType":
                raise TypeError("set_memory_pool_limit(): incompatible function arguments")
            calls.append(("config.set_memory_pool_limit", pool.name, size))

        def set_flag(self, flag: FakeMember) -> None:
            if not isinstance(flag, FakeMember) or flag.enum != "BuilderFlag":
                raise TypeError("set_flag(): incompatible function arguments (a BuilderFlag is needed)")
            self.flags.add(flag.name)
            calls.append(("config.set_flag", flag.name))

        def add_optimization_profile(self, profile: Any) -> int:
            calls.append(("config.add_optimization_profile",))
            self.profiles.append(profile)
            return len(self.profiles) - 1

        def create_timing_cache(self, data: bytes) -> str:
            calls.append(("config.create_timing_cache", data))
            return "cache"

        def set_timing_cache(self, cache: Any, ignore_mismatch: bool) -> bool:
            calls.append(("config.set_timing_cache", cache, ignore_mismatch))
            return True

        def get_timing_cache(self) -> FakeTimingCache:
            return FakeTimingCache()

    class IOptimizationProfile:
        def __init__(self) -> None:
            self.shapes: dict[str, tuple[tuple[int, ...], ...]] = {}

        def set_shape(self, input: str, min: Any, opt: Any, max: Any) -> None:
            self.shapes[input] = (tuple(min), tuple(opt), tuple(max))
            calls.append(("profile.set_shape", input, tuple(min), tuple(opt), tuple(max)))

    def _build_error(network: FakeNetwork, config: IBuilderConfig) -> str | None:
        precision = sorted(config.flags.intersection(PRECISION_FLAGS))
        if network.strongly_typed and precision:
            return ("Error Code 4: API Usage Error (BuilderFlag::k%s is not allowed for a strongly typed network: "
                    "precision comes from the network's types)" % precision[0])
        dynamic = [name for name, dims in network.inputs.items() if any(d < 0 for d in dims)]
        covered = {name for profile in config.profiles for name in profile.shapes}
        if dynamic and not config.profiles:
            return NO_PROFILE
        uncovered = [name for name in dynamic if name not in covered]
        if uncovered:
            return "Error Code 4: API Usage Error (Optimization profile is missing values for input %s)" % uncovered[0]
        for profile in config.profiles:
            for name, (mn, opt, mx) in profile.shapes.items():
                want = network.inputs.get(name)
                ok = want is not None and len(mn) == len(opt) == len(mx) == len(want) and all(
                    a <= b <= c and (w < 0 or a == w == c) for a, b, c, w in zip(mn, opt, mx, want, strict=False))
                if not ok:
                    return "Error Code 4: API Usage Error (optimization profile for %s does not fit %s)" % (name, want)
        calibrator = getattr(config, "int8_calibrator", None) if major <= 10 else None
        if "INT8" in config.flags and calibrator is None and not network.has_qdq:
            return NO_SCALES
        return None

    class Builder:
        def __init__(self, logger: Any) -> None:
            self.logger = logger
            calls.append(("Builder",))

        def create_network(self, flags: int = 0) -> FakeNetwork:
            calls.append(("builder.create_network", flags))
            for bit in range(32):
                if flags & (1 << bit) and bit not in net_flag_values:
                    raise ValueError("create_network: bit %d is no NetworkDefinitionCreationFlag in %s" % (bit, record))
            strongly = major >= 11 or any(
                m.name == "STRONGLY_TYPED" and flags & (1 << int(m)) for m in net_flag_values.values())
            return FakeNetwork(flags, strongly)

        def create_builder_config(self) -> IBuilderConfig:
            return IBuilderConfig()

        def create_optimization_profile(self) -> IOptimizationProfile:
            calls.append(("builder.create_optimization_profile",))
            return IOptimizationProfile()

        def build_serialized_network(self, network: FakeNetwork, config: IBuilderConfig) -> bytes | None:
            calls.append(("builder.build_serialized_network",))
            error = _build_error(network, config)
            if error is not None:
                errors.append(error)
                self.logger.log(Logger.ERROR, error)
                return None
            return b"PLAN"

    class OnnxParser:
        def __init__(self, network: FakeNetwork, logger: Any) -> None:
            self.network = network
            self.errors: list[str] = []
            calls.append(("OnnxParser",))

        @property
        def num_errors(self) -> int:
            return len(self.errors)

        def parse_from_file(self, model: str) -> bool:
            calls.append(("parser.parse_from_file", model))
            problem = _read_onnx(model, self.network)
            self.errors = [problem] if problem else list(parse_errors)
            if major == 8 and not self.network.flags & 1:
                self.errors.append("Network must have explicit batch (create it with EXPLICIT_BATCH)")
            return not self.errors

        def get_error(self, index: int) -> FakeParserError:
            return FakeParserError(self.errors[index])

    tensor_dtype = getattr(trt.DataType, io_dtype)  # AttributeError where the version lacks the type

    class ICudaEngine(NameEngine):
        def create_execution_context(self) -> IExecutionContext:
            return IExecutionContext(self, major)

        def get_tensor_dtype(self, name: str) -> str:
            return str(tensor_dtype)

    class Runtime(_Recorder):
        _allowed = ("engine_host_code_allowed",)

        def __init__(self, logger: Any) -> None:
            super().__init__(calls, "runtime")

        def deserialize_cuda_engine(self, serialized_engine: bytes) -> ICudaEngine | None:
            calls.append(("runtime.deserialize_cuda_engine", serialized_engine))
            return ICudaEngine() if serialized_engine else None

    _check_names(record, ILogger, Logger, IBuilderConfig, IOptimizationProfile, Builder, OnnxParser, Runtime,
                 ICudaEngine, IExecutionContext)
    trt.ILogger, trt.Logger, trt.Builder, trt.OnnxParser, trt.Runtime = ILogger, Logger, Builder, OnnxParser, Runtime
    return trt


class NameEngine:
    """An engine of the name-based I/O API (8.5+): one dynamic-batch image input, one output."""

    num_io_tensors = 2
    _tensors = (("images", 1, (-1, 3, 640, 640)), ("output0", 2, (-1, 84, 8400)))

    def get_tensor_name(self, index: int) -> str:
        return self._tensors[index][0]

    def get_tensor_mode(self, name: str) -> int:
        return dict((n, m) for n, m, _ in self._tensors)[name]

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return dict((n, s) for n, _, s in self._tensors)[name]

    def get_tensor_dtype(self, name: str) -> str:
        return "DataType.FLOAT"


class IExecutionContext:
    """Strict: enqueue succeeds only with every tensor addressed and every dynamic input shaped."""

    def __init__(self, engine: NameEngine, major: int) -> None:
        self.engine = engine
        self.calls: list[tuple[Any, ...]] = []
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.addresses: dict[str, int] = {}

    def _io(self) -> dict[str, tuple[int, tuple[int, ...]]]:
        return {n: (m, s) for n, m, s in self.engine._tensors}

    def set_input_shape(self, name: str, shape: Sequence[int]) -> bool:
        self.calls.append(("set_input_shape", name, tuple(shape)))
        io = self._io()
        if name not in io or io[name][0] != 1 or len(shape) != len(io[name][1]):
            return False
        self.shapes[name] = tuple(shape)
        return True

    def set_tensor_address(self, name: str, memory: int) -> bool:
        self.calls.append(("set_tensor_address", name, memory))
        if name not in self._io():
            return False
        self.addresses[name] = memory
        return True

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        _mode, shape = self._io()[name]
        batch = next(iter(self.shapes.values()), shape)[0]
        return tuple(batch if d < 0 else d for d in shape)

    def execute_async_v3(self, stream_handle: int) -> bool:
        self.calls.append(("execute_async_v3", stream_handle))
        io = self._io()
        unshaped = [n for n, (m, s) in io.items() if m == 1 and any(d < 0 for d in s) and n not in self.shapes]
        return not unshaped and set(self.addresses) == set(io)


class BindingEngine:
    """An engine of the binding-index API only (TensorRT < 8.5, no recorded wheel: JetPack 4/5 era)."""

    num_bindings = 2

    def get_binding_name(self, index: int) -> str:
        return ("images", "output0")[index]

    def binding_is_input(self, index: int) -> bool:
        return index == 0

    def get_binding_shape(self, index: int) -> tuple[int, ...]:
        return ((1, 3, 640, 640), (1, 84, 8400))[index]

    def get_binding_dtype(self, index: int) -> str:
        return "DataType.FLOAT"

    def get_binding_index(self, name: str) -> int:
        return ("images", "output0").index(name)


class BindingContext:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def set_binding_shape(self, index: int, shape: Sequence[int]) -> bool:
        self.calls.append(("set_binding_shape", index, tuple(shape)))
        return True

    def execute_async_v2(self, bindings: list[int], stream_handle: int) -> bool:
        self.calls.append(("execute_async_v2", bindings, stream_handle))
        return all(bindings)


