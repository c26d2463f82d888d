"""What a build means: trtexec options each real trtexec parses, parser errors -> operators, BF16 I/O,
trtexec vs Python TensorRT versions. Option lists and error formats come from NVIDIA/TensorRT tags."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from device_runtime.engines.trt_plan import BuildPlan, BuildRequest, DeviceFacts, ShapeProfile, plan_build
from device_runtime.engines.trt_version import require_version
from device_runtime.engines.trtexec_cmd import BenchRequest, bench_command, build_command
from device_runtime.jobs.kinds.backend_support import parser_error_operators
from device_runtime.jobs.kinds.build import version_mismatch
from device_runtime.latency.probe_trt import to_bf16_bits
from tests.support.trt_record import RECORDED

FLAGS = Path(__file__).resolve().parent / "trtexec_flags"
PROFILE = [ShapeProfile("images", (1, 3, 64, 64), (2, 3, 64, 64), (4, 3, 64, 64))]
OPTIONS = [
    {"precision": "fp16"}, {"precision": "int8", "has_qdq": True}, {"precision": "best", "has_qdq": True},
    {"precision": "fp32", "version_compatible": True, "opt_level": 2}, {"precision": "fp16", "dla_core": 0},
    {"precision": "int8", "has_qdq": True, "dla_core": 0}, {"workspace_mib": 256, "timing_cache_path": "t.cache"},
]


def _known(record: str) -> set[str]:
    return set((FLAGS / ("%s.txt" % record)).read_text().split())


@pytest.mark.parametrize(("record", "options"), list(itertools.product(RECORDED, OPTIONS)))
def test_build_commands_use_only_options_that_trtexec_parses(record: str, options: dict[str, object]) -> None:
    facts = DeviceFacts(record, "8.7", dla_cores=2, board_model="Jetson AGX Orin")
    request = BuildRequest(onnx_path="m.onnx", profiles=PROFILE, route="trtexec", **options)  # type: ignore[arg-type]
    plan = plan_build(request, facts)
    if not isinstance(plan, BuildPlan):
        return
    request.precision, request.strongly_typed = plan.precision, plan.strongly_typed
    argv = build_command(request, require_version(record), "e.plan")
    used = {arg.split("=", 1)[0] for arg in argv[1:]}
    assert used <= _known(record), sorted(used - _known(record))
    if require_version(record).major >= 11:
        assert not used & {"--fp16", "--int8", "--best"}


@pytest.mark.parametrize("record", RECORDED)
def test_bench_commands_use_only_options_that_trtexec_parses(record: str) -> None:
    argv = bench_command(BenchRequest("e.plan", shapes="images:1x3x64x64", export_times_path="t.json",
                                      export_profile_path="p.json", include_data_transfers=False, dla_core=0),
                         require_version(record))
    used = {arg.split("=", 1)[0] for arg in argv[1:]}
    assert used <= _known(record), sorted(used - _known(record))


def test_qdq_on_trt8_sets_int8_and_fp16() -> None:
    request = BuildRequest(onnx_path="m.onnx", precision="int8", has_qdq=True)
    argv = build_command(request, require_version("8.6.1"), "e.plan", verbose=False)
    assert "--int8" in argv and "--fp16" in argv and "--stronglyTyped" not in argv


# Real str(ParserError) lines as users posted them. 10.x (node and operator named): a GridSample3D
# model on TensorRT 10.x, https://github.com/antgroup/ditto-talkinghead/issues/45 . 8.x (node index
# only): a LayerNormalization at node 7 on TensorRT 8.x, https://github.com/ddPn08/Radiata/issues/73 .
# The node -1 line follows the bindings' own format (python/src/parsers/pyOnnx.cpp, v10.0.1) for a
# graph-level error, which names no operator.
PLUGIN = 'creator && "Plugin not found, are the plugin name, version, and namespace correct?"'
TRT10_ERRORS = [
    "In node 11 with name: /dense_motion_network/GridSample and operator: GridSample3D "
    "(checkFallbackPluginImporter): INVALID_NODE: " + PLUGIN,
    "In node 77 with name: /GridSample and operator: GridSample3D (checkFallbackPluginImporter): INVALID_NODE: "
    + PLUGIN,
    "In node -1 with name:  and operator:  (parseGraph): INVALID_GRAPH: Assertion failed: opset version is too old",
]
TRT8_ERRORS = [
    "In node 7 (importFallbackPluginImporter): UNSUPPORTED_NODE: Assertion failed: " + PLUGIN,
]


def test_parser_errors_name_operators_not_parser_functions() -> None:
    assert parser_error_operators(TRT10_ERRORS, []) == ["GridSample3D"]
    graph_ops = ["Gather", "Add", "Add", "Gather", "Add", "Add", "Add", "LayerNormalization", "MatMul"]
    assert parser_error_operators(TRT8_ERRORS, graph_ops) == ["LayerNormalization"]
    assert parser_error_operators(["something else entirely"], ["Conv"]) == []


def test_bf16_bits_round_to_nearest_even() -> None:
    values = np.array([1.0, -2.0, 3.140625, 1.00390625, 1.01171875, 0.0], dtype=np.float32)
    bits = to_bf16_bits(values)
    assert bits.dtype == np.uint16
    assert [hex(b) for b in bits] == ["0x3f80", "0xc000", "0x4049", "0x3f80", "0x3f82", "0x0"]
    back = (bits.astype(np.uint32) << 16).view(np.float32)
    assert np.allclose(back, values, rtol=1 / 128)


def test_trtexec_version_mismatch_warns() -> None:
    assert version_mismatch("10.3.0", "10.3.0") is None
    assert version_mismatch(None, "10.3.0") is None
    warning = version_mismatch("100700", "10.3.0")
    assert warning and "trtexec runs TensorRT 10.7.0 but the Python bindings are TensorRT 10.3.0" in warning


def test_validate_asks_the_parser_and_names_operators(tmp_path: Path) -> None:
    from device_runtime.jobs.kinds.backend_support import tensorrt_support
    from tests.support.onnx_files import onnx_file
    from tests.support.trt_fakes import make_trt

    model = onnx_file(tmp_path / "q.onnx", batch=1, qdq=True)  # nodes: QuantizeLinear, DequantizeLinear, Relu
    eight = tensorrt_support(model, "8.6.1", make_trt("8.6.1", parse_errors=[TRT8_ERRORS[0].replace("node 7",
                                                                                                      "node 1")]))
    assert eight.unsupported_ops == ["DequantizeLinear"] and "importFallbackPluginImporter" in eight.note
    ten = tensorrt_support(model, "10.13.3", make_trt("10.13.3", parse_errors=TRT10_ERRORS))
    assert ten.unsupported_ops == ["GridSample3D"] and "checkFallbackPluginImporter" in ten.note
    clean = tensorrt_support(model, "11.1.0", make_trt("11.1.0"))
    assert clean.available and clean.unsupported_ops == [] and "accepts every node" in clean.note
