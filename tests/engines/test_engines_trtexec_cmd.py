"""trtexec command lines per TensorRT generation, and the build progress classifier."""

from __future__ import annotations

from pathlib import Path

import pytest

from device_runtime.engines.trt_plan import BuildRequest, ShapeProfile
from device_runtime.engines.trt_version import TrtVersion, require_version
from device_runtime.engines.trtexec_cmd import BenchRequest, bench_command, build_command
from device_runtime.engines.trtexec_progress import BuildProgress, classify_progress_line

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "trtexec"
PROFILE = [ShapeProfile("images", (1, 3, 640, 640), (4, 3, 640, 640), (8, 3, 640, 640))]
SHAPES = [
    "--minShapes=images:1x3x640x640",
    "--optShapes=images:4x3x640x640",
    "--maxShapes=images:8x3x640x640",
]


def _req(**kwargs: object) -> BuildRequest:
    base = dict(onnx_path="m.onnx", workspace_mib=1024, profiles=PROFILE, timing_cache_path="t.cache")
    base.update(kwargs)
    return BuildRequest(**base)  # type: ignore[arg-type]


def test_trt82_uses_workspace_and_build_only() -> None:
    argv = build_command(_req(precision="fp16", opt_level=3), require_version("8.2.1"), "e.plan", verbose=False)
    assert argv == ["trtexec", "--onnx=m.onnx", "--saveEngine=e.plan", "--workspace=1024", "--fp16", *SHAPES,
                    "--timingCacheFile=t.cache", "--buildOnly"]


def test_trt85_uses_mem_pool_and_build_only() -> None:
    argv = build_command(_req(precision="int8", dla_core=0), require_version("8.5.2"), "e.plan", verbose=False)
    assert argv == ["trtexec", "--onnx=m.onnx", "--saveEngine=e.plan", "--memPoolSize=workspace:1024", "--int8",
                    *SHAPES, "--timingCacheFile=t.cache", "--useDLACore=0", "--allowGPUFallback", "--buildOnly"]


def test_trt86_adds_opt_level_vc_and_skip_inference() -> None:
    argv = build_command(_req(precision="best", opt_level=4, version_compatible=True), require_version("8.6.2"), "e")
    assert argv[3:] == ["--memPoolSize=workspace:1024", "--best", *SHAPES, "--timingCacheFile=t.cache",
                        "--builderOptimizationLevel=4", "--versionCompatible", "--skipInference", "--verbose"]


def test_trt10_strongly_typed_has_no_precision_flag() -> None:
    argv = build_command(_req(precision="int8", strongly_typed=True), require_version("10.3.0"), "e", verbose=False)
    assert "--stronglyTyped" in argv and "--int8" not in argv and "--workspace=1024" not in argv
    weak = build_command(_req(precision="fp16"), require_version("10.3.0"), "e", verbose=False)
    assert "--fp16" in weak and "--stronglyTyped" not in weak and "--skipInference" in weak


def test_trt11_has_no_precision_or_strongly_typed_flags() -> None:
    argv = build_command(_req(precision="fp16", strongly_typed=True), require_version("11.1.0"), "e", verbose=False)
    assert argv == ["trtexec", "--onnx=m.onnx", "--saveEngine=e", "--memPoolSize=workspace:1024", *SHAPES,
                    "--timingCacheFile=t.cache", "--skipInference"]


def test_bench_commands_per_generation() -> None:
    bench = BenchRequest("e.plan", shapes="images:1x3x640x640", export_times_path="times.json")
    common = ["trtexec", "--loadEngine=e.plan", "--shapes=images:1x3x640x640", "--warmUp=200", "--duration=3",
              "--iterations=10"]
    stable = ["--useSpinWait", "--separateProfileRun"]
    times = "--exportTimes=times.json"
    pct = "--percentile=90,95,99"
    assert bench_command(bench, require_version("8.4.1")) == [*common, times, *stable]
    assert bench_command(bench, require_version("10.3.0")) == [*common, pct, times, *stable, "--useCudaGraph"]
    assert bench_command(bench, require_version("11.1.0")) == [*common, pct, times, "--includeDataTransfers"]
    compute_only = BenchRequest("e.plan", include_data_transfers=False)
    assert "--noDataTransfers" in bench_command(compute_only, require_version("10.3.0"))
    assert "--includeDataTransfers" not in bench_command(compute_only, require_version("11.0.0"))


@pytest.mark.parametrize(
    "text, version",
    [("10.3.0", (10, 3, 0)), ("8.6.1.6", (8, 6, 1)), ("v100300", (10, 3, 0)), ("8003", (8, 0, 3)),
     ("v8601", (8, 6, 1)), ("101601", (10, 16, 1)), ("110100", (11, 1, 0))],
)
def test_version_forms(text: str, version: tuple) -> None:
    parsed = TrtVersion.parse(text)
    assert parsed is not None and parsed.short == version
    assert TrtVersion.parse("banana") is None


@pytest.mark.parametrize(
    "line, phase, detail, fraction",
    [
        ("[07/07/2026-02:10:45] [I] Start parsing network model.", "parsing", None, None),
        ("[V] [TRT] Parsing node: node_conv2d [Conv]", "parsing", None, None),
        ("[I] [TRT] Global timing cache in use. Profiling results in this builder pass will be stored.", "building",
         None, None),
        ("[V] [TRT] =============== Computing costs for node_conv2d + node_relu", "tactic_timing",
         "node_conv2d + node_relu", None),
        ("[V] [TRT] ****** Autotuning format combination: Float(784,784,28,1) -> Float(1) ****", "tactic_timing", None,
         None),
        ("[I] [TRT] Starting Calibration with batch size 50.", "calibration", None, None),
        ("[I] [TRT]   Calibrated batch 9 in 0.00207574 seconds.", "calibration", "batch 10/20", 0.5),
        ("[I] [TRT] Engine generation completed in 15.4838 seconds.", "serializing", None, None),
        ("[07/07/2026-02:10:54] [I] Engine built in 8.09138 sec.", "done", None, None),
        ("[I] Starting inference", "inference", None, None),
        ("&&&& FAILED TensorRT.trtexec [TensorRT v8203] # trtexec --onnx=model.onnx", "failed", None, None),
        ("[E] [TRT] ModelImporter.cpp:773: While parsing node number 3", "failed", None, None),
    ],
)
def test_progress_classifier(line: str, phase: str, detail: object, fraction: object) -> None:
    progress = classify_progress_line(line, calibration_batches=20)
    assert progress is not None and progress.phase == phase
    if detail is not None:
        assert progress.detail == detail
    assert progress.fraction == fraction


def test_progress_ignores_noise_and_orders_a_real_log() -> None:
    assert classify_progress_line("[I] SMs: 114") is None
    assert classify_progress_line("") is None
    text = (FIXTURES / "trt101601_h100_build.log").read_text(encoding="utf-8")
    phases = [p.phase for p in map(classify_progress_line, text.splitlines()) if isinstance(p, BuildProgress)]
    seen = list(dict.fromkeys(phases))
    assert seen == ["parsing", "building", "done", "inference"]
