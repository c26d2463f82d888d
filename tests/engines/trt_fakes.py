"""Recorded fake ``tensorrt`` modules, one per API generation, for adapter tests.

Each fake exposes only the attributes that generation's Python bindings have (checked against
NVIDIA/TensorRT python/src/infer/pyCore.cpp at 8.5.1, 10.0.0 and 11.1), so a call the real module
lacks fails here with AttributeError too. Every call lands in ``module.calls``.
"""

from __future__ import annotations

import types
from typing import Any


class _Enum:
    def __init__(self, **values: int) -> None:
        for name, value in values.items():
            setattr(self, name, value)


class _Recorder:
    _allowed: tuple[str, ...] = ()

    def __init__(self, calls: list[tuple[Any, ...]], name: str) -> None:
        object.__setattr__(self, "_calls", calls)
        object.__setattr__(self, "_name", name)

    def __setattr__(self, key: str, value: Any) -> None:
        if key not in self._allowed:
            raise AttributeError("%s has no attribute %r in this TensorRT generation" % (self._name, key))
        self._calls.append(("%s.%s=" % (self._name, key), value))


class FakeTimingCache:
    def serialize(self) -> bytes:
        return b"CACHE"


def make_trt(version: str, parse_ok: bool = True) -> types.SimpleNamespace:
    major = int(version.split(".", maxsplit=1)[0])
    minor = int(version.split(".")[1])
    calls: list[tuple[Any, ...]] = []
    trt = types.SimpleNamespace(__version__=version, calls=calls)

    net_flags = {"EXPLICIT_BATCH": 0}
    if major == 10:
        net_flags["STRONGLY_TYPED"] = 2
    if major >= 11:
        net_flags = {"STRONGLY_TYPED": 2}  # EXPLICIT_BATCH is gone; STRONGLY_TYPED is deprecated (always on)
    trt.NetworkDefinitionCreationFlag = _Enum(**net_flags)
    flags = {"GPU_FALLBACK": 4, "TF32": 5}
    if major <= 10:
        flags.update(FP16=1, INT8=2)
    if (major, minor) >= (8, 6):
        flags["VERSION_COMPATIBLE"] = 7
    trt.BuilderFlag = _Enum(**flags)
    trt.MemoryPoolType = _Enum(WORKSPACE=0)
    trt.DeviceType = _Enum(GPU=0, DLA=1)
    trt.TensorIOMode = _Enum(NONE=0, INPUT=1, OUTPUT=2)

    class Logger:
        WARNING = 2

        def __init__(self, severity: int) -> None:
            calls.append(("Logger", severity))

    config_attrs: tuple[str, ...] = ("default_device_type", "DLA_core")
    if major <= 10:
        config_attrs += ("int8_calibrator",)
    if major == 8:
        config_attrs += ("max_workspace_size",)
    if (major, minor) >= (8, 6):
        config_attrs += ("builder_optimization_level",)

    class Config(_Recorder):
        _allowed = config_attrs

        def set_memory_pool_limit(self, pool: int, size: int) -> None:
            calls.append(("config.set_memory_pool_limit", pool, size))

        def set_flag(self, flag: int) -> None:
            calls.append(("config.set_flag", flag))

        def add_optimization_profile(self, profile: Any) -> int:
            calls.append(("config.add_optimization_profile",))
            return 0

        def create_timing_cache(self, data: bytes) -> str:
            calls.append(("config.create_timing_cache", data))
            return "cache"

        def set_timing_cache(self, cache: Any, ignore_mismatch: bool) -> bool:
            calls.append(("config.set_timing_cache", cache, ignore_mismatch))
            return True

        def get_timing_cache(self) -> FakeTimingCache:
            return FakeTimingCache()

    class Profile:
        def set_shape(self, name: str, mn: Any, opt: Any, mx: Any) -> None:
            calls.append(("profile.set_shape", name, tuple(mn), tuple(opt), tuple(mx)))

    class Builder:
        def __init__(self, logger: Any) -> None:
            calls.append(("Builder",))

        def create_network(self, flags: int) -> str:
            calls.append(("builder.create_network", flags))
            return "network"

        def create_builder_config(self) -> Config:
            return Config(calls, "config")

        def create_optimization_profile(self) -> Profile:
            calls.append(("builder.create_optimization_profile",))
            return Profile()

        def build_serialized_network(self, network: Any, config: Any) -> bytes:
            calls.append(("builder.build_serialized_network",))
            return b"PLAN"

    if major == 8:
        Builder.build_engine = lambda self, network, config: None  # type: ignore[attr-defined]

    class OnnxParser:
        num_errors = 0 if parse_ok else 1

        def __init__(self, network: Any, logger: Any) -> None:
            calls.append(("OnnxParser",))

        def parse_from_file(self, path: str) -> bool:
            calls.append(("parser.parse_from_file", path))
            return parse_ok

        def get_error(self, index: int) -> str:
            return "In node 3 (Conv): unsupported"

    runtime_attrs: tuple[str, ...] = ("engine_host_code_allowed",) if (major, minor) >= (8, 6) else ()

    class Runtime(_Recorder):
        _allowed = runtime_attrs

        def __init__(self, logger: Any) -> None:
            super().__init__(calls, "runtime")

        def deserialize_cuda_engine(self, data: bytes) -> str:
            calls.append(("runtime.deserialize_cuda_engine", data))
            return "engine"

    trt.Logger, trt.Builder, trt.OnnxParser, trt.Runtime = Logger, Builder, OnnxParser, Runtime
    return trt


class NameEngine:
    """An engine of the 8.5+ name-based I/O API."""

    num_io_tensors = 2
    _tensors = (("images", 1, (1, 3, 640, 640)), ("output0", 2, (1, 84, 8400)))

    def get_tensor_name(self, index: int) -> str:
        return self._tensors[index][0]

    def get_tensor_mode(self, name: str) -> int:
        return dict((n, m) for n, m, _ in self._tensors)[name]

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return dict((n, s) for n, _, s in self._tensors)[name]

    def get_tensor_dtype(self, name: str) -> str:
        return "DataType.FLOAT"


class BindingEngine:
    """An engine of the binding-index API only (TensorRT < 8.5)."""

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


class Context:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def __getattr__(self, name: str) -> Any:
        def record(*args: Any) -> bool:
            self.calls.append((name, *args))
            return True

        return record
