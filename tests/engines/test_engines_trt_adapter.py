"""The adapter on strict fakes of each recorded TensorRT bindings wheel (no real TensorRT runs here)."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from device_runtime.engines.trt_adapter import (
    IoTensor,
    TrtBuildError,
    build_engine,
    enqueue,
    list_io_tensors,
    load_engine,
)
from device_runtime.engines.trt_plan import BuildPlan, BuildRequest, DeviceFacts, ShapeProfile, plan_build
from tests.support.onnx_files import onnx_file
from tests.support.trt_fakes import BindingContext, BindingEngine, NameEngine, make_trt


@pytest.fixture
def dynamic(tmp_path: Path) -> str:
    return onnx_file(tmp_path / "dyn.onnx")


@pytest.fixture
def static(tmp_path: Path) -> str:
    return onnx_file(tmp_path / "static.onnx", batch=1)


def _plan(version: str, **kwargs: object) -> BuildPlan:
    facts = DeviceFacts(version, "8.7", dla_cores=2, board_model="Jetson AGX Orin")
    plan = plan_build(BuildRequest(onnx_path="m.onnx", **kwargs), facts)  # type: ignore[arg-type]
    assert isinstance(plan, BuildPlan), getattr(plan, "reason", "")
    return plan


PROFILE = [ShapeProfile("images", (1, 3, 64, 64), (2, 3, 64, 64), (4, 3, 64, 64))]


def test_trt86_build_calls_with_the_real_enum_values(tmp_path: Path, dynamic: str) -> None:
    trt = make_trt("8.6.1")
    cache = tmp_path / "t.cache"
    plan = _plan("8.6.1", precision="fp16", workspace_mib=2, timing_cache_path=str(cache), profiles=PROFILE,
                 opt_level=1)
    assert build_engine(trt, plan, dynamic) == b"PLAN"
    assert trt.calls == [
        ("Logger", 2),
        ("Builder",),
        ("builder.create_network", 1 << 0),  # EXPLICIT_BATCH is 0 in NvInfer.h 8.6.1
        ("OnnxParser",),
        ("parser.parse_from_file", dynamic),
        ("config.set_memory_pool_limit", "WORKSPACE", 2 << 20),
        ("config.set_flag", "FP16"),
        ("config.builder_optimization_level=", 1),
        ("builder.create_optimization_profile",),
        ("profile.set_shape", "images", (1, 3, 64, 64), (2, 3, 64, 64), (4, 3, 64, 64)),
        ("config.add_optimization_profile",),
        ("config.create_timing_cache", b""),
        ("config.set_timing_cache", "cache", True),
        ("builder.build_serialized_network",),
    ]
    assert cache.read_bytes() == b"CACHE"


def test_trt86_calibrator_build(static: str) -> None:
    trt = make_trt("8.6.1")
    plan = _plan("8.6.1", precision="int8", use_calibrator=True)
    assert build_engine(trt, plan, static, calibrator="CAL") == b"PLAN"
    assert ("config.set_flag", "INT8") in trt.calls and ("config.int8_calibrator=", "CAL") in trt.calls


def test_trt86_dla_and_version_compatible(static: str) -> None:
    trt = make_trt("8.6.1")
    build_engine(trt, _plan("8.6.1", precision="fp16", dla_core=1, version_compatible=True), static)
    assert [c for c in trt.calls if c[0].startswith("config.")] == [
        ("config.set_flag", "FP16"), ("config.set_flag", "GPU_FALLBACK"), ("config.set_flag", "VERSION_COMPATIBLE"),
        ("config.default_device_type=", trt.DeviceType.DLA), ("config.DLA_core=", 1)]
    assert int(trt.BuilderFlag.VERSION_COMPATIBLE) == 15 and int(trt.BuilderFlag.GPU_FALLBACK) == 3


@pytest.mark.parametrize("version", ["10.3.0", "10.13.3"])
def test_trt10_qdq_builds_strongly_typed(tmp_path: Path, version: str) -> None:
    trt = make_trt(version)
    model = onnx_file(tmp_path / "q.onnx", batch=1, qdq=True)
    plan = _plan(version, precision="int8", has_qdq=True)
    assert plan.strongly_typed and plan.builder_flags == []
    assert build_engine(trt, plan, model) == b"PLAN"
    assert ("builder.create_network", 1 << 1) in trt.calls  # STRONGLY_TYPED is 1 in NvInfer.h 10.x
    assert not [c for c in trt.calls if c[0] == "config.set_flag"]


def test_trt10_weak_fp16_uses_create_network_zero(static: str) -> None:
    trt = make_trt("10.3.0")
    build_engine(trt, _plan("10.3.0", precision="fp16"), static)
    assert ("builder.create_network", 0) in trt.calls and ("config.set_flag", "FP16") in trt.calls


def test_trt11_build_has_no_precision_flags(tmp_path: Path) -> None:
    trt = make_trt("11.1.0")
    assert not hasattr(trt.BuilderFlag, "FP16") and not hasattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH")
    model = onnx_file(tmp_path / "q.onnx", batch=1, qdq=True)
    plan = _plan("11.1.0", precision="int8", has_qdq=True, opt_level=3)
    assert build_engine(trt, plan, model) == b"PLAN"
    assert [c for c in trt.calls if c[0].startswith(("config.", "builder.create_network"))] == [
        ("builder.create_network", 0), ("config.builder_optimization_level=", 3)]


def test_fakes_fail_where_real_tensorrt_fails(dynamic: str, static: str) -> None:
    """Without the plan's refusals, the fakes (like TensorRT) refuse a missing profile and INT8 without scales."""
    raw = BuildPlan(trt_version=_plan("10.3.0").trt_version, generation="10", network_flags=[], workspace_api=None,
                    workspace_bytes=None, builder_flags=["INT8"], use_calibrator=False, optimization_level=None,
                    timing_cache_path=None, timing_cache_ignore_mismatch=True, profiles=[], dla_core=None,
                    engine_host_code_allowed=False, precision="int8", strongly_typed=False)
    with pytest.raises(TrtBuildError, match="no optimization profile has been defined"):
        build_engine(make_trt("10.3.0"), raw, dynamic)
    with pytest.raises(TrtBuildError, match="no scaling factors detected"):
        build_engine(make_trt("10.3.0"), raw, static)
    trt = make_trt("10.13.3")
    with pytest.raises(TypeError):
        trt.Builder(trt.Logger()).create_builder_config().set_flag(0)  # pybind11 wants a BuilderFlag
    with pytest.raises(AttributeError):
        make_trt("11.1.0").BuilderFlag.INT8  # noqa: B018 - removed in 11.0


def test_fake_rejects_attributes_the_version_lacks() -> None:
    trt11 = make_trt("11.1.0")
    with pytest.raises(AttributeError):
        trt11.Builder(trt11.Logger()).create_builder_config().int8_calibrator = object()
    trt10 = make_trt("10.0.1")
    with pytest.raises(AttributeError):
        trt10.Builder(trt10.Logger()).create_builder_config().max_workspace_size = 1
    with pytest.raises(ValueError, match="no recorded TensorRT bindings"):
        make_trt("8.5.2")


def test_parse_errors_are_reported(static: str) -> None:
    text = ("In node 0 with name: /Relu and operator: Relu (checkFallbackPluginImporter): INVALID_NODE: creator && "
            '"Plugin not found, are the plugin name, version, and namespace correct?"')
    with pytest.raises(TrtBuildError, match="checkFallbackPluginImporter"):
        build_engine(make_trt("10.3.0", parse_errors=[text]), _plan("10.3.0"), static)


def test_plan_for_other_version_is_refused(static: str) -> None:
    with pytest.raises(TrtBuildError, match=r"plan made for TensorRT 10\.3\.0"):
        build_engine(make_trt("8.6.1"), _plan("10.3.0"), static)


def test_missing_calibrator_is_an_error(static: str) -> None:
    with pytest.raises(TrtBuildError, match="no calibrator"):
        build_engine(make_trt("8.6.1"), _plan("8.6.1", precision="int8", use_calibrator=True), static)


def test_load_engine_allows_host_code_for_version_compatible() -> None:
    trt = make_trt("10.3.0")
    engine = load_engine(trt, b"P", version_compatible=True)
    assert engine.num_io_tensors == 2
    assert trt.calls[-2:] == [("runtime.engine_host_code_allowed=", True), ("runtime.deserialize_cuda_engine", b"P")]
    with pytest.raises(TrtBuildError, match="could not deserialize"):
        load_engine(trt, b"")


WANT_IO = [
    IoTensor("images", True, (-1, 3, 640, 640), "DataType.FLOAT"),
    IoTensor("output0", False, (-1, 84, 8400), "DataType.FLOAT"),
]


@pytest.mark.parametrize("version", ["8.6.1", "10.0.1", "10.13.3", "11.1.0"])
def test_name_based_io(version: str) -> None:
    trt = make_trt(version)
    engine = load_engine(trt, b"PLAN")
    assert list_io_tensors(trt, engine) == WANT_IO
    context = engine.create_execution_context()
    enqueue(trt, engine, context, {"images": 100, "output0": 200}, 7, {"images": (1, 3, 640, 640)})
    assert context.calls == [
        ("set_input_shape", "images", (1, 3, 640, 640)),
        ("set_tensor_address", "images", 100),
        ("set_tensor_address", "output0", 200),
        ("execute_async_v3", 7),
    ]
    with pytest.raises(TrtBuildError, match="refused to enqueue"):  # the dynamic input has no shape
        enqueue(trt, engine, engine.create_execution_context(), {"images": 100, "output0": 200}, 7)


def test_binding_index_io_before_85() -> None:
    """TensorRT < 8.5 (JetPack 4/5) has no recorded wheel: only the version decides the route here."""
    trt = types.SimpleNamespace(__version__="8.2.1")
    assert list_io_tensors(trt, BindingEngine()) == [
        IoTensor("images", True, (1, 3, 640, 640), "DataType.FLOAT"),
        IoTensor("output0", False, (1, 84, 8400), "DataType.FLOAT")]
    context = BindingContext()
    enqueue(trt, BindingEngine(), context, {"output0": 200, "images": 100}, 7, {"images": (1, 3, 640, 640)})
    assert context.calls == [("set_binding_shape", 0, (1, 3, 640, 640)), ("execute_async_v2", [100, 200], 7)]
    assert NameEngine.num_io_tensors == 2
