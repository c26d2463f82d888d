"""The adapter applied to recorded fake TensorRT modules of each generation (no real TensorRT)."""

from __future__ import annotations

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
from tests.engines.trt_fakes import BindingEngine, Context, NameEngine, make_trt


def _plan(version: str, **kwargs: object) -> BuildPlan:
    facts = DeviceFacts(version, "8.7", dla_cores=2, board_model="Jetson AGX Orin")
    plan = plan_build(BuildRequest(onnx_path="m.onnx", **kwargs), facts)  # type: ignore[arg-type]
    assert isinstance(plan, BuildPlan), getattr(plan, "reason", "")
    return plan


PROFILE = [ShapeProfile("images", (1, 3, 64, 64), (2, 3, 64, 64), (4, 3, 64, 64))]


def test_trt85_build_calls(tmp_path: Path) -> None:
    trt = make_trt("8.5.2.2")
    cache = tmp_path / "t.cache"
    plan = _plan("8.5.2", precision="int8", use_calibrator=True, workspace_mib=2, timing_cache_path=str(cache),
                 profiles=PROFILE)
    assert build_engine(trt, plan, "m.onnx", calibrator="CAL") == b"PLAN"
    assert trt.calls == [
        ("Logger", 2),
        ("Builder",),
        ("builder.create_network", 1),
        ("OnnxParser",),
        ("parser.parse_from_file", "m.onnx"),
        ("config.set_memory_pool_limit", 0, 2 << 20),
        ("config.set_flag", 2),
        ("config.int8_calibrator=", "CAL"),
        ("builder.create_optimization_profile",),
        ("profile.set_shape", "images", (1, 3, 64, 64), (2, 3, 64, 64), (4, 3, 64, 64)),
        ("config.add_optimization_profile",),
        ("config.create_timing_cache", b""),
        ("config.set_timing_cache", "cache", True),
        ("builder.build_serialized_network",),
    ]
    assert cache.read_bytes() == b"CACHE"


def test_trt86_build_calls_opt_level_dla_and_vc() -> None:
    trt = make_trt("8.6.2")
    plan = _plan("8.6.2", precision="fp16", opt_level=1, dla_core=1, version_compatible=True)
    build_engine(trt, plan, "m.onnx", logger="L")
    assert trt.calls == [
        ("Builder",),
        ("builder.create_network", 1),
        ("OnnxParser",),
        ("parser.parse_from_file", "m.onnx"),
        ("config.set_flag", 1),
        ("config.set_flag", 4),
        ("config.set_flag", 7),
        ("config.builder_optimization_level=", 1),
        ("config.default_device_type=", 1),
        ("config.DLA_core=", 1),
        ("builder.build_serialized_network",),
    ]


def test_trt10_build_calls_strongly_typed(tmp_path: Path) -> None:
    trt = make_trt("10.3.0")
    cache = tmp_path / "t.cache"
    cache.write_bytes(b"OLD")
    plan = _plan("10.3.0", precision="int8", strongly_typed=True, workspace_mib=1, timing_cache_path=str(cache))
    build_engine(trt, plan, "m.onnx", logger="L")
    assert ("builder.create_network", 1 << 2) in trt.calls
    assert ("config.set_memory_pool_limit", 0, 1 << 20) in trt.calls
    assert ("config.create_timing_cache", b"OLD") in trt.calls
    assert not [c for c in trt.calls if c[0] == "config.set_flag"]
    assert not hasattr(trt.Builder, "build_engine")


def test_trt10_weak_fp16_uses_create_network_zero() -> None:
    trt = make_trt("10.3.0")
    build_engine(trt, _plan("10.3.0", precision="fp16"), "m.onnx", logger="L")
    assert trt.calls[1] == ("builder.create_network", 0)
    assert ("config.set_flag", 1) in trt.calls


def test_trt11_build_has_no_precision_flags() -> None:
    trt = make_trt("11.1.0")
    assert not hasattr(trt.BuilderFlag, "FP16")
    plan = _plan("11.1.0", precision="fp16", strongly_typed=True, opt_level=3)
    build_engine(trt, plan, "m.onnx", logger="L")
    assert trt.calls == [
        ("Builder",),
        ("builder.create_network", 0),
        ("OnnxParser",),
        ("parser.parse_from_file", "m.onnx"),
        ("config.builder_optimization_level=", 3),
        ("builder.build_serialized_network",),
    ]


def test_fake_rejects_calls_the_generation_lacks() -> None:
    """The fakes are strict: an 8.5 config has no optimization level, 11.x no calibrator."""
    trt85 = make_trt("8.5.2")
    with pytest.raises(AttributeError):
        trt85.Builder("L").create_builder_config().builder_optimization_level = 3
    trt11 = make_trt("11.1.0")
    with pytest.raises(AttributeError):
        trt11.Builder("L").create_builder_config().int8_calibrator = object()
    with pytest.raises(AttributeError):
        trt11.Builder("L").create_builder_config().max_workspace_size = 1


def test_parse_errors_are_reported() -> None:
    trt = make_trt("10.3.0", parse_ok=False)
    with pytest.raises(TrtBuildError, match="In node 3"):
        build_engine(trt, _plan("10.3.0"), "m.onnx", logger="L")


def test_plan_for_other_version_is_refused() -> None:
    with pytest.raises(TrtBuildError, match=r"plan made for TensorRT 10\.3\.0"):
        build_engine(make_trt("8.6.1"), _plan("10.3.0"), "m.onnx", logger="L")


def test_missing_calibrator_is_an_error() -> None:
    with pytest.raises(TrtBuildError, match="no calibrator"):
        build_engine(make_trt("8.5.2"), _plan("8.5.2", precision="int8", use_calibrator=True), "m.onnx", logger="L")


def test_load_engine_allows_host_code_for_version_compatible() -> None:
    trt = make_trt("10.3.0")
    assert load_engine(trt, b"P", logger="L", version_compatible=True) == "engine"
    assert trt.calls == [("runtime.engine_host_code_allowed=", True), ("runtime.deserialize_cuda_engine", b"P")]


WANT_IO = [
    IoTensor("images", True, (1, 3, 640, 640), "DataType.FLOAT"),
    IoTensor("output0", False, (1, 84, 8400), "DataType.FLOAT"),
]


@pytest.mark.parametrize("version", ["8.5.2", "8.6.2", "10.3.0", "11.1.0"])
def test_name_based_io(version: str) -> None:
    trt = make_trt(version)
    assert list_io_tensors(trt, NameEngine()) == WANT_IO
    context = Context()
    enqueue(trt, NameEngine(), context, {"images": 100, "output0": 200}, 7, {"images": (1, 3, 640, 640)})
    assert context.calls == [
        ("set_input_shape", "images", (1, 3, 640, 640)),
        ("set_tensor_address", "images", 100),
        ("set_tensor_address", "output0", 200),
        ("execute_async_v3", 7),
    ]


def test_binding_index_io_before_85() -> None:
    trt = make_trt("8.2.1")
    assert list_io_tensors(trt, BindingEngine()) == WANT_IO
    context = Context()
    enqueue(trt, BindingEngine(), context, {"output0": 200, "images": 100}, 7, {"images": (1, 3, 640, 640)})
    assert context.calls == [("set_binding_shape", 0, (1, 3, 640, 640)), ("execute_async_v2", [100, 200], 7)]
