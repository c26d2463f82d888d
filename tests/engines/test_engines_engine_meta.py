"""Engine identity records and compatibility messages."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from device_runtime.engines.engine_meta import EngineMeta, check_engine_compat, make_engine_meta, sha256_file
from device_runtime.engines.trt_plan import BuildPlan, BuildRequest, DeviceFacts, ShapeProfile, plan_build

ORIN_JP51 = DeviceFacts("8.5.2", "8.7", dla_cores=2, board_model="Jetson AGX Orin", l4t="35.4", jetpack="5.1.2")
ORIN_JP62 = DeviceFacts("10.3.0", "8.7", dla_cores=2, board_model="Jetson AGX Orin", l4t="36.4", jetpack="6.2")


def _meta(facts: DeviceFacts, **kwargs: object) -> EngineMeta:
    request = BuildRequest(onnx_path="m.onnx", **kwargs)  # type: ignore[arg-type]
    plan = plan_build(request, facts)
    assert isinstance(plan, BuildPlan), getattr(plan, "reason", "")
    return make_engine_meta(plan, facts, "ab" * 32)


def test_identity_record(tmp_path: Path) -> None:
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"onnx")
    digest = sha256_file(str(onnx))
    assert digest == hashlib.sha256(b"onnx").hexdigest()
    meta = _meta(ORIN_JP51, precision="fp16", opt_level=None, dla_core=1,
                 profiles=[ShapeProfile("images", (1, 3, 8, 8), (2, 3, 8, 8), (4, 3, 8, 8))])
    data = json.loads(meta.to_json())
    assert data["trt_version"] == "8.5.2" and data["l4t"] == "35.4" and data["jetpack"] == "5.1.2"
    assert data["builder_flags"] == ["FP16", "GPU_FALLBACK"]
    assert data["profiles"] == {"images": {"min": [1, 3, 8, 8], "opt": [2, 3, 8, 8], "max": [4, 3, 8, 8]}}
    assert EngineMeta.from_dict(data) == meta


def test_same_stack_is_compatible() -> None:
    assert check_engine_compat(_meta(ORIN_JP62, precision="fp16"), ORIN_JP62) is None


def test_jetpack_upgrade_needs_rebuild() -> None:
    message = check_engine_compat(_meta(ORIN_JP51, precision="fp16"), ORIN_JP62)
    assert message == (
        "engine built with TensorRT 8.5.2 for compute capability 8.7 on L4T 35.4; "
        "this device has TensorRT 10.3.0, compute capability 8.7: rebuild it from the package's ONNX"
    )


def test_other_gpu_needs_rebuild() -> None:
    thor = DeviceFacts("10.3.0", "11.0", board_model="Jetson AGX Thor")
    message = check_engine_compat(_meta(ORIN_JP62), thor)
    assert message is not None and "compute capability 11.0" in message


def test_version_compatible_engines_same_major_newer_only() -> None:
    built = DeviceFacts("10.3.0", "8.7", l4t="36.4")
    meta = _meta(built, version_compatible=True)
    assert meta.version_compatible
    assert check_engine_compat(meta, DeviceFacts("10.7.0", "8.7")) is None
    assert check_engine_compat(meta, DeviceFacts("11.1.0", "8.7")) is not None
    assert check_engine_compat(meta, DeviceFacts("10.2.0", "8.7")) is not None
    plain = _meta(built)
    assert check_engine_compat(plain, DeviceFacts("10.7.0", "8.7")) is not None


def test_dla_engine_on_board_without_that_core() -> None:
    meta = _meta(ORIN_JP62, precision="fp16", dla_core=1)
    nx8 = DeviceFacts("10.3.0", "8.7", dla_cores=1, board_model="Jetson Orin NX 8GB")
    assert check_engine_compat(meta, nx8) is not None
