"""The build job (and the trtexec benchmark) with recorded TensorRT fakes and a trtexec that
replays real logs. Nothing here ran on a real TensorRT."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from device_runtime import protocol as p
from tests.support.jobs_harness import Harness, capabilities, fake_trt_env

pytestmark = pytest.mark.slow

H100 = [p.GpuInfo(0, "NVIDIA H100 PCIe", compute_capability="9.0")]


def make(tmp: Path, trt: str, **caps: object) -> Harness:
    options = {"tensorrt": trt, "gpus": H100, "backends": ["onnxruntime", "tensorrt"], **caps}
    return Harness(tmp / "root", capabilities(**options), worker_env=fake_trt_env(trt))


@pytest.fixture
def trt10(tmp_path: Path) -> Iterator[Harness]:
    h = make(tmp_path, "10.3.0")
    yield h
    h.close()


def test_api_build_writes_engine_meta_and_timing_cache(trt10: Harness, models_dir: Path, tmp_path: Path) -> None:
    engine = tmp_path / "demo.plan"
    info = trt10.submit("build", {"model": str(models_dir / "demo.onnx"), "output": str(engine),
                                  "precision": ["fp16"], "shapes": {"image": "1x3x64x64,4x3x64x64,8x3x64x64"},
                                  "workspace_mb": 512})
    done = trt10.wait_final(info.id)
    assert done.state == p.JOB_SUCCEEDED, (done.error, trt10.log_text(info.id))
    result = p.BuildResult.from_wire(done.result or {})
    assert engine.read_bytes() == b"PLAN"  # what the fake builder serializes
    assert result.tensorrt == "10.3.0" and result.route == "api" and result.precision == ["fp16"]
    assert result.compute_capability == "9.0" and result.engine_bytes == 4
    assert result.timing_cache and Path(result.timing_cache).read_bytes() == b"CACHE"
    meta = json.loads(Path(str(engine) + ".meta.json").read_text())
    assert meta["trt_version"] == "10.3.0" and meta["builder_flags"] == ["FP16"]
    assert meta["profiles"] == {"image": {"min": [1, 3, 64, 64], "opt": [4, 3, 64, 64], "max": [8, 3, 64, 64]}}
    log = trt10.log_text(info.id)
    assert "plan: config.set_memory_pool_limit(WORKSPACE, 536870912)" in log
    assert "plan: config.set_flag(FP16)" in log


def test_qdq_model_builds_strongly_typed(trt10: Harness, tmp_path: Path, models_dir: Path) -> None:
    import numpy as np

    int8 = tmp_path / "int8.onnx"
    np.save(tmp_path / "c.npy", np.random.default_rng(0).random((4, 3, 64, 64), dtype=np.float32))
    quant = trt10.wait_final(trt10.submit("quantize", {"model": str(models_dir / "demo.onnx"), "output": str(int8),
                                                       "precision": "int8", "calibration": str(tmp_path / "c.npy")}).id)
    assert quant.state == p.JOB_SUCCEEDED, quant.error
    unshaped = trt10.wait_final(trt10.submit("build", {"model": str(int8), "output": str(tmp_path / "q.plan")}).id)
    assert unshaped.state == p.JOB_FAILED and "input image ['batch', 3, 64, 64] has dynamic dimensions" in (
        unshaped.error or "") and "--shape image:1x3x64x64,4x3x64x64,8x3x64x64" in (unshaped.error or "")
    assert not (tmp_path / "q.plan").exists()
    done = trt10.wait_final(trt10.submit("build", {"model": str(int8), "output": str(tmp_path / "q.plan"),
                                                   "shapes": {"image": "1x3x64x64,2x3x64x64,4x3x64x64"}}).id)
    assert done.state == p.JOB_SUCCEEDED, done.error
    meta = json.loads((tmp_path / "q.plan.meta.json").read_text())
    assert meta["strongly_typed"] is True and meta["precision"] == "int8" and meta["builder_flags"] == []


def test_trtexec_route_reports_phases_and_learns_an_eta(trt10: Harness, models_dir: Path, tmp_path: Path) -> None:
    spec = {"model": str(models_dir / "demo_static.onnx"), "output": str(tmp_path / "t.plan"), "route": "trtexec"}
    first = trt10.wait_final(trt10.submit("build", spec).id)
    assert first.state == p.JOB_SUCCEEDED, (first.error, trt10.log_text(first.id))
    assert (tmp_path / "t.plan").read_bytes().startswith(b"FAKE-ENGINE")
    stages = [e.stage for e in trt10.events if e.id == first.id]
    for phase in ("parsing", "building", "done"):  # the phases this real log shows
        assert any(s.startswith(phase) for s in stages), stages
    fractions = [e.progress for e in trt10.events if e.id == first.id]
    assert fractions == sorted(fractions)
    assert "--skipInference" in trt10.log_text(first.id) and "Engine built in" in trt10.log_text(first.id)
    warnings = p.BuildResult.from_wire(first.result or {}).warnings  # the replayed log is trtexec 10.16
    assert any("trtexec runs TensorRT 10.16.1 but the Python bindings are TensorRT 10.3.0" in w for w in warnings)
    assert all(e.eta_s is None or e.eta_s >= 0 for e in trt10.events if e.id == first.id)
    second = trt10.submit("build", spec)
    trt10.wait_final(second.id)
    running = [e for e in trt10.events if e.id == second.id and e.state == p.JOB_RUNNING and e.progress > 0]
    first_build_s = (first.finished or 0) - (first.started or 0)
    assert running and running[0].eta_s is not None and running[0].eta_s <= first_build_s + 1.0


def test_trtexec_failure_is_reported_and_leaves_no_engine(tmp_path: Path, models_dir: Path) -> None:
    h = Harness(tmp_path / "root", capabilities(tensorrt="8.6.1", gpus=H100),
                worker_env=fake_trt_env("8.6.1", FAKE_TRTEXEC_LOG="trt8203_gtx1070_fp16_failed.log"))
    try:
        done = h.wait_final(h.submit("build", {"model": str(models_dir / "demo_static.onnx"),
                                               "output": str(tmp_path / "f.plan"), "route": "trtexec"}).id)
    finally:
        h.close()
    assert done.state == p.JOB_FAILED and "trtexec could not build the engine" in (done.error or "")
    assert sorted(x.name for x in tmp_path.iterdir()) == ["root"]


def test_a_package_manifest_gives_the_profile(trt10: Harness, models_dir: Path, tmp_path: Path) -> None:
    import shutil

    from console.core.models.packages import manifest_for_onnx

    folder = tmp_path / "detector" / "1.0.0"  # as a stored version or an unpacked package lays it out
    folder.mkdir(parents=True)
    shutil.copy(models_dir / "demo.onnx", folder / "model.onnx")
    manifest = manifest_for_onnx(folder / "model.onnx", "detector", "1.0.0", "tests",
                                 shapes={"image": [2, 3, 64, 64]})
    (folder / "manifest.json").write_bytes(manifest.canonical_bytes())
    done = trt10.wait_final(trt10.submit("build", {"model": str(folder / "model.onnx"),
                                                   "output": str(tmp_path / "m.plan")}).id)
    assert done.state == p.JOB_SUCCEEDED, done.error
    result = p.BuildResult.from_wire(done.result or {})
    assert any("warm-up shapes of package detector 1.0.0: image 2x3x64x64" in w for w in result.warnings)
    meta = json.loads((tmp_path / "m.plan.meta.json").read_text())
    assert meta["profiles"] == {"image": {"min": [2, 3, 64, 64], "opt": [2, 3, 64, 64], "max": [2, 3, 64, 64]}}


def test_int8_without_qdq_is_refused_not_labelled(trt10: Harness, models_dir: Path, tmp_path: Path) -> None:
    for route in ("api", "trtexec"):
        done = trt10.wait_final(trt10.submit("build", {"model": str(models_dir / "demo_static.onnx"), "route": route,
                                                       "output": str(tmp_path / "i.plan"), "precision": ["int8"]}).id)
        assert done.state == p.JOB_FAILED and "this ONNX has no Q/DQ nodes: quantize it first" in (done.error or "")
    assert not (tmp_path / "i.plan").exists()


def test_timing_cache_goes_stale_when_tensorrt_changes(tmp_path: Path, models_dir: Path) -> None:
    spec = {"model": str(models_dir / "demo_static.onnx"), "output": str(tmp_path / "e.plan")}
    for version in ("10.3.0", "10.8.0"):
        h = make(tmp_path, version)
        try:
            done = h.wait_final(h.submit("build", spec).id)
        finally:
            h.close()
        assert done.state == p.JOB_SUCCEEDED, done.error
    result = p.BuildResult.from_wire(done.result or {})
    assert "trt-10.8.0.cache" in (result.timing_cache or "")
    assert any("TensorRT 10.3.0 on this board is stale" in w for w in result.warnings)
    index = json.loads((tmp_path / "root" / "timing-caches" / "index.json").read_text())
    assert {(e["trt_version"], e["stale"]) for e in index} == {("10.3.0", True), ("10.8.0", False)}


@pytest.mark.parametrize(
    ("trt", "caps", "spec", "needle"),
    [
        ("10.3.0", {"model": "NVIDIA Jetson Orin Nano Developer Kit", "l4t": "36.4.3", "gpus": []},
         {"dla_core": 0, "precision": ["fp16"]}, "has no DLA cores"),
        ("11.1.0", {}, {"precision": ["int8"]}, "TensorRT 11 is strongly typed"),
        ("10.3.0", {"gpus": [p.GpuInfo(0, "GTX 1070", compute_capability="6.1")]}, {"precision": ["fp16"]},
         "no fast FP16"),
        ("10.3.0", {}, {"shapes": {"image": "8x3x64x64,1x3x64x64,4x3x64x64"}}, "min <= opt <= max"),
        ("7.1.3", {}, {}, "not supported for builds"),
        ("10.3.0", {}, {"calibration": "calib/"}, "quantize the ONNX to Q/DQ"),
        ("10.3.0", {}, {"route": "magic"}, "route must be api"),
    ],
)
def test_refused_before_starting(tmp_path: Path, trt: str, caps: dict[str, object], spec: dict[str, object],
                                 needle: str) -> None:
    h = make(tmp_path, trt, **caps)
    try:
        with pytest.raises(p.ProtocolError, match=needle):
            h.submit("build", {"model": "m.onnx", "output": "e.plan", **spec})
        assert h.call("jobs.list", {}).jobs == []
    finally:
        h.close()


def test_trt_benchmark_uses_the_export_times_trace(trt10: Harness, tmp_path: Path) -> None:
    engine = tmp_path / "e.plan"
    engine.write_bytes(b"engine")
    done = trt10.wait_final(trt10.submit("benchmark", {"model": str(engine), "backend": "trt", "seconds": 1}).id)
    assert done.state == p.JOB_SUCCEEDED, (done.error, trt10.log_text(done.id))
    result = p.BenchmarkResult.from_wire(done.result or {})
    assert result.backend == "trt" and result.latency.count == 12 and len(result.samples_ms) == 12
    assert result.gpu_compute is not None and result.gpu_compute.min == pytest.approx(1.48)
    assert result.latency.median == pytest.approx(1.655) and result.gpu_compute.unstable
    assert "--exportTimes=" in trt10.log_text(done.id)
