"""Every TensorRT name the runtime uses exists in every recorded real bindings wheel it claims.

The names come from the wheels' own strings and the enum values from NvInfer.h at each release tag
(``trt_names/README.md``); nothing here imports TensorRT.
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

from device_runtime.engines.trt_adapter import TRT_NAMES
from device_runtime.engines.trt_plan import BuildPlan, BuildRequest, DeviceFacts, ShapeProfile, plan_build
from device_runtime.engines.trt_version import require_version
from tests.support.trt_record import RECORDED, enum_values, names, registers

REPO = Path(__file__).resolve().parents[2]
# Modules that call into a ``trt`` module, and the local names that hold TensorRT objects there.
USERS = ("device_runtime/engines/trt_adapter.py", "device_runtime/jobs/kinds/backend_support.py",
         "device_runtime/jobs/kinds/build.py", "device_runtime/latency/probe_trt.py", "device_runtime/store/warmup.py")
TRT_OBJECTS = {"trt", "builder", "config", "network", "parser", "engine", "context", "runtime", "profile", "base"}


def _used_names(source: str) -> set[str]:
    used = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        root: ast.expr = node
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name) and root.id in TRT_OBJECTS:
            used.add(node.attr)
    return used


def _in_range(record: str, span: tuple[tuple[int, int], tuple[int, int]]) -> bool:
    version = require_version(record)
    return span[0] <= (version.major, version.minor) < span[1]


def test_recorded_wheels_are_plausible() -> None:
    for record in RECORDED:
        assert {"OnnxParser", "build_serialized_network", "set_input_shape"} <= names(record)
        assert registers(record, "Builder")  # only as the tail of "IBuilder"
    assert "max_workspace_size" in names("8.6.1") and "max_workspace_size" not in names("10.0.1")
    assert "execute_async_v2" in names("8.6.1") and "execute_async_v2" not in names("10.13.3")
    assert "IInt8EntropyCalibrator2" in names("10.13.3") and "IInt8EntropyCalibrator2" not in names("11.1.0")


@pytest.mark.parametrize("module", USERS)
def test_every_attribute_used_is_declared(module: str) -> None:
    used = _used_names((REPO / module).read_text())
    undeclared = sorted(name for name in used if name not in TRT_NAMES and not name.startswith("_"))
    # What is not TensorRT's: our own plan and numpy attributes reached through the same local names.
    ours = {"trt_version", "profiles", "input_name", "min", "opt", "max", "nbytes", "ctypes", "data", "shape"}
    assert [name for name in undeclared if name not in ours] == []


@pytest.mark.parametrize(("name", "record"), [
    (name, record) for name, record in itertools.product(sorted(TRT_NAMES), RECORDED)
    if _in_range(record, TRT_NAMES[name])
])
def test_declared_name_exists_in_the_wheel(name: str, record: str) -> None:
    assert name == "__version__" or registers(record, name), "TensorRT %s does not register %r" % (record, name)


REQUESTS = [
    {"precision": "fp32"}, {"precision": "fp16"}, {"precision": "int8", "has_qdq": True},
    {"precision": "best", "has_qdq": True}, {"precision": "int8", "use_calibrator": True},
    {"precision": "fp16", "strongly_typed": True}, {"precision": "fp16", "dla_core": 0},
    {"precision": "fp32", "version_compatible": True},
]


@pytest.mark.parametrize("record", RECORDED)
@pytest.mark.parametrize("options", REQUESTS)
def test_plans_use_only_enum_members_the_version_has(record: str, options: dict[str, object]) -> None:
    facts = DeviceFacts(record, "8.7", dla_cores=2, board_model="Jetson AGX Orin")
    request = BuildRequest(onnx_path="m.onnx", inputs={"images": [1, 3, 64, 64]},
                           profiles=[ShapeProfile("images", (1, 3, 64, 64), (1, 3, 64, 64), (1, 3, 64, 64))],
                           **options)  # type: ignore[arg-type]
    plan = plan_build(request, facts)
    if not isinstance(plan, BuildPlan):
        return  # refused before any TensorRT call: nothing to spell
    assert set(plan.builder_flags) <= set(enum_values(record, "BuilderFlag")), plan.builder_flags
    assert set(plan.network_flags) <= set(enum_values(record, "NetworkDefinitionCreationFlag")), plan.network_flags


def test_removed_members_are_gone_in_11() -> None:
    flags = enum_values("11.1.0", "BuilderFlag")
    assert not {"FP16", "INT8", "BF16", "FP8", "OBEY_PRECISION_CONSTRAINTS"} & set(flags)
    assert "EXPLICIT_BATCH" not in enum_values("11.1.0", "NetworkDefinitionCreationFlag")
    assert enum_values("10.0.1", "NetworkDefinitionCreationFlag")["STRONGLY_TYPED"] == 1
