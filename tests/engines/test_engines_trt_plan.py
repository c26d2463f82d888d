"""The capability/plan layer over a matrix of TensorRT versions x boards x requests."""

from __future__ import annotations

import pytest

from device_runtime.engines.trt_plan import (
    BuildPlan,
    BuildRequest,
    DeviceFacts,
    Refusal,
    ShapeProfile,
    describe_plan,
    plan_build,
)

BOARDS = {
    "agx_orin_jp51": DeviceFacts("8.5.2", "8.7", dla_cores=2, board_model="Jetson AGX Orin", l4t="35.4.1"),
    "agx_orin_jp60": DeviceFacts("8.6.2", "8.7", dla_cores=2, board_model="Jetson AGX Orin", l4t="36.3.0"),
    "orin_nano_jp62": DeviceFacts("10.3.0", "8.7", dla_cores=0, board_model="Jetson Orin Nano", l4t="36.4.3"),
    "orin_nx8_jp62": DeviceFacts("10.3.0", "8.7", dla_cores=1, board_model="Jetson Orin NX 8GB"),
    "thor_jp70": DeviceFacts("10.13.3", "11.0", dla_cores=0, board_model="Jetson AGX Thor"),
    "rtx_trt1016": DeviceFacts("10.16.1", "8.9", board_model="RTX 4090"),
    "thor_trt11": DeviceFacts("11.1.0", "11.0", dla_cores=0, board_model="Jetson AGX Thor"),
    "agx_orin_trt1140": DeviceFacts("11.4.0", "8.7", dla_cores=2, board_model="Jetson AGX Orin"),
    "agx_orin_trt1141": DeviceFacts("11.4.1", "8.7", dla_cores=2, board_model="Jetson AGX Orin"),
    "gtx1070_trt86": DeviceFacts("8.6.1", "6.1", has_fast_fp16=False, board_model="GTX 1070"),
    "nano_jp46": DeviceFacts("8.2.1", "5.3", board_model="Jetson Nano"),
}


def req(**kwargs: object) -> BuildRequest:
    return BuildRequest(onnx_path="m.onnx", **kwargs)  # type: ignore[arg-type]


# (board, request, None for accepted or (refusal code, phrase in the reason))
MATRIX = [
    ("agx_orin_jp51", req(precision="fp16", workspace_mib=1024), None),
    ("agx_orin_jp51", req(precision="fp16", opt_level=2), ("opt_level", "8.6")),
    ("agx_orin_jp51", req(version_compatible=True), ("version_compatible", "8.6")),
    ("agx_orin_jp51", req(precision="int8"), ("int8", "no Q/DQ nodes: quantize it first")),
    ("agx_orin_jp51", req(precision="int8", use_calibrator=True), None),
    ("agx_orin_jp51", req(precision="fp16", dla_core=1), None),
    ("agx_orin_jp51", req(precision="fp16", dla_core=2), ("dla", "core 2 does not exist")),
    ("agx_orin_jp51", req(precision="fp32", dla_core=0), ("dla", "FP16 or INT8")),
    ("agx_orin_jp60", req(precision="fp16", opt_level=5, version_compatible=True), None),
    ("orin_nano_jp62", req(precision="fp16", dla_core=0), ("dla", "Jetson Orin Nano has no DLA cores")),
    ("orin_nano_jp62", req(precision="int8", strongly_typed=True), None),
    ("orin_nano_jp62", req(precision="int8"), ("int8", "no Q/DQ nodes")),
    ("orin_nano_jp62", req(precision="best"), ("int8", "--best needs INT8 scales")),
    ("orin_nano_jp62", req(precision="int8", has_qdq=True), None),
    ("rtx_trt1016", req(precision="best", has_qdq=True), None),
    ("orin_nano_jp62", req(inputs={"images": ["N", 3, 640, 640], "scale": [1]}),
     ("profile", "input images ['N', 3, 640, 640] has dynamic dimensions")),
    ("orin_nano_jp62", req(inputs={"a": [0, 3], "b": ["B", 4]}), ("profile", "inputs a [0, 3], b ['B', 4] have")),
    ("orin_nano_jp62", req(inputs={"images": [1, 3]}, profiles=[ShapeProfile("image", (1, 3), (1, 3), (1, 3))]),
     ("profile", "no input image (its inputs: images)")),
    ("orin_nano_jp62", req(inputs={"images": ["N", 3]}, profiles=[ShapeProfile("images", (1, 3), (2, 3), (4, 3))]),
     None),
    ("orin_nx8_jp62", req(precision="int8", has_qdq=True, dla_core=0, route="trtexec"),
     ("dla", "use the api route")),
    ("orin_nx8_jp62", req(precision="int8", has_qdq=True, dla_core=0), None),
    ("agx_orin_jp60", req(precision="int8", has_qdq=True, dla_core=0, route="trtexec"), None),
    ("orin_nx8_jp62", req(precision="int8", use_calibrator=True, dla_core=0), None),
    ("orin_nx8_jp62", req(precision="fp16", dla_core=1), ("dla", "1 DLA core(s)")),
    ("thor_jp70", req(precision="fp16", dla_core=0), ("dla", "Jetson AGX Thor has no DLA cores")),
    ("rtx_trt1016", req(precision="fp16", dla_core=0), ("dla", "no DLA cores")),
    ("thor_trt11", req(precision="fp16"), ("strongly_typed", "TensorRT 11 is strongly typed: quantize the ONNX first")),
    ("thor_trt11", req(precision="int8"), ("strongly_typed", "quantize job")),
    ("thor_trt11", req(precision="best"), ("strongly_typed", "BEST builder flag")),
    ("thor_trt11", req(precision="int8", strongly_typed=True, use_calibrator=True), ("calibrator", "removed")),
    ("thor_trt11", req(precision="fp16", strongly_typed=True, opt_level=3), None),
    ("thor_trt11", req(precision="fp32"), None),
    ("agx_orin_trt1140", req(precision="int8", strongly_typed=True, dla_core=0), ("dla", "11.0-11.4.0")),
    ("agx_orin_trt1141", req(precision="int8", strongly_typed=True, dla_core=0), None),
    ("gtx1070_trt86", req(precision="fp16"), ("fp16", "no fast FP16")),
    ("gtx1070_trt86", req(precision="fp32", opt_level=0), None),
    ("nano_jp46", req(precision="fp16"), ("version", "not supported for builds")),
    ("agx_orin_jp60", req(precision="fp8"), ("precision", "unknown precision")),
    ("agx_orin_jp60", req(workspace_mib=0), ("workspace", "positive")),
    ("agx_orin_jp60", req(opt_level=6), ("opt_level", "0 to 5")),
    ("agx_orin_jp60", req(profiles=[ShapeProfile("x", (1, 3), (4, 3), (2, 3))]), ("profile", "min <= opt <= max")),
    ("agx_orin_jp60", req(use_calibrator=True), ("calibrator", "only applies to INT8")),
]


@pytest.mark.parametrize("board, request_, outcome", MATRIX)
def test_plan_matrix(board: str, request_: BuildRequest, outcome: tuple | None) -> None:
    result = plan_build(request_, BOARDS[board])
    if outcome is None:
        assert isinstance(result, BuildPlan), getattr(result, "reason", "")
    else:
        assert isinstance(result, Refusal)
        assert result.code == outcome[0]
        assert outcome[1] in result.reason


def _plan(board: str, request_: BuildRequest) -> BuildPlan:
    result = plan_build(request_, BOARDS[board])
    assert isinstance(result, BuildPlan), getattr(result, "reason", "")
    return result


def test_trt85_plan_uses_explicit_batch_and_memory_pool() -> None:
    plan = _plan("agx_orin_jp51", req(precision="best", workspace_mib=512, use_calibrator=True))
    assert plan.generation == "8.5"
    assert plan.network_flags == ["EXPLICIT_BATCH"]
    assert plan.workspace_api == "set_memory_pool_limit"  # present since 8.4 in the Python bindings
    assert plan.workspace_bytes == 512 << 20
    assert plan.builder_flags == ["FP16", "INT8"]
    assert plan.optimization_level is None and not plan.engine_host_code_allowed


def test_trt10_plans() -> None:
    weak = _plan("orin_nano_jp62", req(precision="fp16", opt_level=4, timing_cache_path="/c"))
    assert weak.network_flags == [] and weak.builder_flags == ["FP16"]
    assert weak.timing_cache_ignore_mismatch
    typed = _plan("rtx_trt1016", req(precision="int8", strongly_typed=True))
    assert typed.network_flags == ["STRONGLY_TYPED"] and typed.builder_flags == []
    calib = _plan("orin_nx8_jp62", req(precision="int8", use_calibrator=True, dla_core=0))
    assert calib.builder_flags == ["INT8", "GPU_FALLBACK"]
    assert any("deprecated since TensorRT 10.1" in note for note in calib.notes)
    deprecated = _plan("rtx_trt1016", req(precision="fp16"))
    assert any("10.12" in note for note in deprecated.notes)


def test_qdq_builds() -> None:
    """10.x: strongly typed, no precision flags; 8.x (no strong typing): INT8 and FP16 for the other layers."""
    typed = _plan("orin_nano_jp62", req(precision="int8", has_qdq=True))
    assert typed.strongly_typed and typed.network_flags == ["STRONGLY_TYPED"] and typed.builder_flags == []
    eight = _plan("agx_orin_jp60", req(precision="int8", has_qdq=True))
    assert eight.builder_flags == ["FP16", "INT8"] and not eight.strongly_typed
    assert any("FP16 allowed" in note for note in eight.notes)
    from_model = _plan("agx_orin_jp60", req(precision="int8", strongly_typed=True))
    assert from_model.builder_flags == ["FP16", "INT8"]


def test_trt11_plan_has_no_precision_flags() -> None:
    plan = _plan("thor_trt11", req(precision="fp16", strongly_typed=True, version_compatible=True))
    assert plan.network_flags == [] and plan.builder_flags == ["VERSION_COMPATIBLE"]
    assert plan.strongly_typed and plan.engine_host_code_allowed


def test_steps_describe_the_api_sequence() -> None:
    plan = _plan(
        "agx_orin_jp60",
        req(
            precision="fp16", workspace_mib=1, opt_level=2, dla_core=0, timing_cache_path="/c",
            profiles=[ShapeProfile("images", (1, 3, 640, 640), (4, 3, 640, 640), (8, 3, 640, 640))],
        ),
    )
    assert plan.steps() == [
        "create_network(EXPLICIT_BATCH)",
        "OnnxParser.parse",
        "config.set_memory_pool_limit(WORKSPACE, 1048576)",
        "config.set_flag(FP16)",
        "config.set_flag(GPU_FALLBACK)",
        "config.builder_optimization_level = 2",
        "config.default_device_type = DLA; config.DLA_core = 0",
        "config.add_optimization_profile(images)",
        "config.set_timing_cache(ignore_mismatch=True)",
        "builder.build_serialized_network",
    ]
    assert describe_plan(plan)["generation"] == "8.6"
