"""Jobs through a real daemon: validate, restart while running, cancel, GPU serialization, pipelines."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from device_runtime import protocol as p
from device_runtime.server.bridge import start_daemon
from tests.support.daemons import RunningDaemon, stop_daemon
from tests.support.jobs_client import JobClient

pytestmark = pytest.mark.slow


def test_validate_reports_the_model(job_client: JobClient, models_dir: Path) -> None:
    info = job_client.submit("validate", {"model": str(models_dir / "demo.onnx")}, label="demo")
    assert info.state in (p.JOB_QUEUED, p.JOB_RUNNING) and not info.gpu
    done = job_client.wait_final(info.id)
    assert done.state == p.JOB_SUCCEEDED, done.error
    report = p.ValidateReport.from_wire(done.result or {})
    assert report.ok and report.ir_version == 8 and report.opsets == {"": 17}
    assert [(t.name, t.shape) for t in report.inputs] == [("image", ["batch", 3, 64, 64])]
    assert [(t.name, t.shape) for t in report.outputs] == [("logits", ["batch", 10])]
    assert report.operators == {"Conv": 3, "BatchNormalization": 3, "Relu": 3, "MaxPool": 3,
                                "GlobalAveragePool": 1, "Flatten": 1, "Gemm": 1}
    assert report.parameters == 24682 and report.precision == "fp32" and not report.external_data
    cpu = [b for b in report.backends if b.backend == "onnxruntime:CPUExecutionProvider"]
    assert cpu and cpu[0].available and cpu[0].unsupported_ops == []
    trt = [b for b in report.backends if b.backend == "tensorrt"]
    assert trt and not trt[0].available and "not installed" in trt[0].note
    assert any("dynamic" in w and "image" in w for w in report.warnings)
    states = [e.state for e in job_client.seen if e.id == info.id]
    assert states[0] == p.JOB_QUEUED and p.JOB_RUNNING in states and states[-1] == p.JOB_SUCCEEDED
    listed = p.JobList.from_wire(job_client.ok("jobs.list", {}))
    assert [j.id for j in listed.jobs] == [info.id]
    log = p.JobLog.from_wire(job_client.ok("jobs.logs", {"id": info.id}))
    assert log.done and any("validated" in line for line in log.lines)


def test_validate_external_data_and_unknown_operator(job_client: JobClient, models_dir: Path) -> None:
    ext = job_client.wait_final(job_client.submit("validate", {"model": str(models_dir / "external.onnx")}).id)
    report = p.ValidateReport.from_wire(ext.result or {})
    assert report.ok and report.external_data and report.parameters == 24682
    custom = job_client.wait_final(job_client.submit("validate", {"model": str(models_dir / "custom_op.onnx")}).id)
    report = p.ValidateReport.from_wire(custom.result or {})
    cpu = next(b for b in report.backends if b.backend.endswith("CPUExecutionProvider"))
    assert cpu.unsupported_ops == ["example.vision.FancyBlur"]
    assert any("FancyBlur" in w for w in report.warnings)


@pytest.mark.parametrize(
    ("name", "needle"),
    [("corrupt.onnx", "is not a readable ONNX model"), ("missing.onnx", "does not exist on the device")],
)
def test_bad_models_fail_with_a_clear_message(job_client: JobClient, models_dir: Path, name: str, needle: str) -> None:
    done = job_client.wait_final(job_client.submit("validate", {"model": str(models_dir / name)}).id)
    assert done.state == p.JOB_FAILED and needle in (done.error or "")


def _slow_quantize_spec(models_dir: Path, tmp: Path, samples: int = 60) -> dict[str, object]:
    """INT8 calibration of the slow model: about half a second per sample on one core."""
    calib = tmp / "calib.npy"
    np.save(calib, np.random.default_rng(0).random((samples, 512, 512), dtype=np.float32))
    return {"model": str(models_dir / "slow.onnx"), "output": str(tmp / "out" / "slow_int8.onnx"),
            "precision": "int8", "calibration": str(calib), "max_samples": samples}


def test_cancel_running_job_leaves_no_output(job_client: JobClient, models_dir: Path, short_tmp: Path) -> None:
    (short_tmp / "out").mkdir()
    info = job_client.submit("quantize", _slow_quantize_spec(models_dir, short_tmp))
    job_client.wait_for(info.id, (p.JOB_RUNNING,))
    deadline = time.monotonic() + 60
    while not any(e.id == info.id and e.stage.startswith("calibrating") for e in job_client.seen):
        assert time.monotonic() < deadline, "calibration never started"
        assert not any(e.id == info.id and e.state in p.JOB_FINAL_STATES for e in job_client.seen), job_client.seen
        job_client.recv()
    cancelling = p.JobInfo.from_wire(job_client.ok("jobs.cancel", {"id": info.id}))
    assert cancelling.state == p.JOB_RUNNING and cancelling.stage == "cancelling"
    done = job_client.wait_final(info.id)
    assert done.state == p.JOB_CANCELLED and "cancelled" in (done.error or "")
    assert os.listdir(short_tmp / "out") == []  # neither the output nor a temp file
    again = p.JobInfo.from_wire(job_client.ok("jobs.cancel", {"id": info.id}))
    assert again.state == p.JOB_CANCELLED


def test_restart_while_running_marks_job_interrupted(short_tmp: Path, models_dir: Path) -> None:
    socket_path = short_tmp / "rt" / "edge-runtime.sock"
    root = short_tmp / "root"
    (short_tmp / "out").mkdir()
    start_daemon(str(socket_path), str(root), ["--rate", "10"])
    daemon = RunningDaemon(socket_path, root)
    try:
        client = JobClient(socket_path)
        info = client.submit("quantize", _slow_quantize_spec(models_dir, short_tmp))
        running = client.wait_for(info.id, (p.JOB_RUNNING,))
        assert running.started is not None
        client.close()
        os.kill(daemon.pid, signal.SIGKILL)  # a crash: nothing gets to clean up
        start_daemon(str(socket_path), str(root), ["--rate", "10"])
        client = JobClient(socket_path)
        after = p.JobInfo.from_wire(client.ok("jobs.get", {"id": info.id}))
        assert after.state == p.JOB_INTERRUPTED
        assert "stopped while this job was running" in (after.error or "")
        deadline = time.monotonic() + 30
        while os.listdir(short_tmp / "out"):  # the orphaned worker died with its daemon
            assert time.monotonic() < deadline, os.listdir(short_tmp / "out")
            time.sleep(0.1)  # ok: the orphaned worker is another process; its files going away is the signal
        client.close()
    finally:
        stop_daemon(socket_path)


def test_gpu_jobs_serialize_and_validate_runs_beside(job_client: JobClient, models_dir: Path) -> None:
    spec = {"model": str(models_dir / "demo_static.onnx"), "seconds": 1.0, "warmup_s": 0.1}
    first = job_client.submit("benchmark", spec)
    second = job_client.submit("benchmark", spec)
    light = job_client.submit("validate", {"model": str(models_dir / "demo.onnx")})
    assert first.gpu and second.gpu
    job_client.wait_final(first.id)
    job_client.wait_final(second.id)
    job_client.wait_final(light.id)
    by_id = {j.id: j for j in p.JobList.from_wire(job_client.ok("jobs.list", {})).jobs}
    a, b, v = by_id[first.id], by_id[second.id], by_id[light.id]
    assert a.state == b.state == v.state == p.JOB_SUCCEEDED
    assert a.finished is not None and b.started is not None and b.started >= a.finished
    assert v.started is not None and a.finished is not None and v.started < a.finished  # beside the GPU job
    result = p.BenchmarkResult.from_wire(b.result or {})
    assert result.latency.count > 10 and result.throughput_qps > 0 and result.provider == "CPUExecutionProvider"
    assert result.conditions.throttled is False and result.comparable


def test_pipeline_validate_quantize_benchmark_accuracy(job_client: JobClient, models_dir: Path,
                                                       short_tmp: Path) -> None:
    calib = short_tmp / "calib.npz"
    np.savez(calib, image=np.random.default_rng(3).random((32, 3, 64, 64), dtype=np.float32))
    int8 = short_tmp / "demo_int8.onnx"
    shapes = {"image": [1, 3, 64, 64]}
    steps = [
        {"kind": "validate", "spec": {"model": str(models_dir / "demo.onnx")}},
        {"kind": "quantize", "spec": {"model": str(models_dir / "demo.onnx"), "output": str(int8),
                                      "precision": "int8", "calibration": str(calib), "calibrate_method": "entropy"}},
        {"kind": "benchmark", "spec": {"model": str(int8), "shapes": shapes, "seconds": 1.0, "warmup_s": 0.1,
                                       "concurrency": [1, 2]}},
        {"kind": "accuracy", "spec": {"candidate": str(int8), "reference": str(models_dir / "demo.onnx"),
                                      "shapes": shapes, "samples": 8}},
    ]
    jobs = p.JobList.from_wire(job_client.ok("jobs.pipeline", {"steps": steps, "label": "demo int8"})).jobs
    assert [j.after for j in jobs] == [None, jobs[0].id, jobs[1].id, jobs[2].id]
    assert len({j.pipeline for j in jobs}) == 1 and jobs[0].pipeline
    finals = [job_client.wait_final(j.id, timeout=180) for j in jobs]
    assert [f.state for f in finals] == [p.JOB_SUCCEEDED] * 4, [f.error for f in finals]
    quant = p.QuantizeResult.from_wire(finals[1].result or {})
    assert quant.precision == "int8" and quant.calibration_samples == 32 and quant.quantized_nodes >= 4
    bench = p.BenchmarkResult.from_wire(finals[2].result or {})
    assert bench.precision == "int8" and [pt.streams for pt in bench.sweep] == [1, 2]
    acc = p.AccuracyReport.from_wire(finals[3].result or {})
    assert acc.passed and acc.precision == "int8" and acc.outputs[0].cosine > 0.99


def test_pipeline_failure_cancels_the_rest(job_client: JobClient, models_dir: Path, short_tmp: Path) -> None:
    wrong = short_tmp / "wrong.npy"
    np.save(wrong, np.zeros((4, 3, 32, 32), dtype=np.float32))
    out = short_tmp / "never.onnx"
    steps = [
        {"kind": "quantize", "spec": {"model": str(models_dir / "demo.onnx"), "output": str(out),
                                      "precision": "int8", "calibration": str(wrong)}},
        {"kind": "benchmark", "spec": {"model": str(out), "shapes": {"image": [1, 3, 64, 64]}}},
        {"kind": "accuracy", "spec": {"candidate": str(out), "reference": str(models_dir / "demo.onnx")}},
    ]
    jobs = p.JobList.from_wire(job_client.ok("jobs.pipeline", {"steps": steps})).jobs
    finals = [job_client.wait_final(j.id) for j in jobs]
    assert [f.state for f in finals] == [p.JOB_FAILED, p.JOB_CANCELLED, p.JOB_CANCELLED]
    assert "[4, 3, 32, 32]" in (finals[0].error or "") and "'image'" in (finals[0].error or "")
    assert jobs[0].id in (finals[1].error or "") and not out.exists()


def test_worker_keeps_heavy_libraries_out_of_the_daemon(daemon: RunningDaemon, job_client: JobClient,
                                                        models_dir: Path) -> None:
    job_client.wait_final(job_client.submit("validate", {"model": str(models_dir / "demo.onnx")}).id)
    maps = Path("/proc/%d/maps" % daemon.pid).read_text()
    assert "onnxruntime" not in maps and "onnx_cpp2py" not in maps


def test_requests_with_bad_input_get_clear_errors(job_client: JobClient) -> None:
    unknown = job_client.error("jobs.submit", {"kind": "teleport", "spec": {}})
    assert unknown.code == p.ErrorCode.BAD_FIELD and "validate" in unknown.message
    missing = job_client.error("jobs.submit", {"kind": "quantize", "spec": {"model": "m.onnx"}})
    assert "quantize spec" in missing.message and "output" in missing.message
    refused = job_client.error("jobs.submit", {"kind": "build", "spec": {"model": "m.onnx", "output": "e.plan"}})
    assert refused.code == p.ErrorCode.FAILED and "no TensorRT" in refused.message
    int8 = job_client.error("jobs.submit", {"kind": "quantize", "spec": {"model": "m", "output": "o",
                                                                         "precision": "int8"}})
    assert "calibration data" in int8.message
    assert "no job with id" in job_client.error("jobs.get", {"id": "nope"}).message
    assert "unknown job state" in job_client.error("jobs.list", {"states": ["sleeping"]}).message
    empty = job_client.error("jobs.pipeline", {"steps": []})
    assert "at least one step" in empty.message
    assert p.JobList.from_wire(job_client.ok("jobs.list", {})).jobs == []  # nothing half-created


def test_daemon_stop_marks_running_job_interrupted(short_tmp: Path, models_dir: Path) -> None:
    socket_path = short_tmp / "rt" / "edge-runtime.sock"
    root = short_tmp / "root"
    (short_tmp / "out").mkdir()
    start_daemon(str(socket_path), str(root), ["--rate", "10"])
    try:
        client = JobClient(socket_path)
        info = client.submit("quantize", _slow_quantize_spec(models_dir, short_tmp))
        client.wait_for(info.id, (p.JOB_RUNNING,))
        client.close()
    finally:
        result = subprocess.run([sys.executable, "-m", "device_runtime", "stop", "--socket", str(socket_path)],
                                capture_output=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    start_daemon(str(socket_path), str(root), ["--rate", "10"])
    try:
        client = JobClient(socket_path)
        after = p.JobInfo.from_wire(client.ok("jobs.get", {"id": info.id}))
        assert after.state == p.JOB_INTERRUPTED and "stopped while this job was running" in (after.error or "")
        assert os.listdir(short_tmp / "out") == []
        client.close()
    finally:
        stop_daemon(socket_path)
