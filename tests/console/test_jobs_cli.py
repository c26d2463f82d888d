"""edgectl's job commands end to end against the real local runtime and real ONNX Runtime."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from device_runtime.demo_model import build_demo_model
from device_runtime.protocol import AccuracyReport, BenchmarkResult, JobInfo, QuantizeResult, ValidateReport
from tests.support.jobs_cli import run


@pytest.fixture
def model(tmp_path: Path) -> Iterator[Path]:
    """The demo classifier: input ``image`` [batch, 3, 64, 64], output ``logits``."""
    import onnx

    path = tmp_path / "models" / "demo.onnx"
    path.parent.mkdir()
    onnx.save(build_demo_model(), str(path))
    yield path


def test_validate_prints_the_report_and_json(console_env: ConsoleEnv, model: Path) -> None:
    code, out, err = run(console_env, "validate", str(model))
    assert code == ExitCode.OK, err
    assert out.startswith("demo.onnx: valid\n")
    assert "image   float32  [batch, 3, 64, 64]" in out and "onnxruntime:CPUExecutionProvider" in out
    # Progress went to stderr as plain lines (not a terminal), ending with the final state.
    lines = err.strip().splitlines()
    assert lines[0].startswith("job ") and " validate: " in lines[0]
    assert lines[-1].endswith("validate: succeeded 100% done")
    code, out, _ = run(console_env, "validate", str(model), "--json")
    report = ValidateReport.from_wire(json.loads(out))
    assert code == ExitCode.OK and report.ok and report.model == str(model)
    assert [t.name for t in report.inputs] == ["image"] and report.inputs[0].shape[0] == "batch"


def test_bench_quantize_accuracy_round(console_env: ConsoleEnv, model: Path, tmp_path: Path) -> None:
    code, out, err = run(console_env, "bench", str(model), "--shape", "image:1x3x64x64", "--seconds", "0.5",
                         "--warmup", "0.1", "--label", "demo fp32", "--json")
    assert code == ExitCode.OK, err
    result = BenchmarkResult.from_wire(json.loads(out))
    assert result.label == "demo fp32" and result.shapes == {"image": [1, 3, 64, 64]}
    assert result.latency.count > 10 and 0 < result.latency.min <= result.latency.median <= result.latency.max

    fp16 = tmp_path / "models" / "demo.fp16.onnx"
    code, out, err = run(console_env, "quantize", str(model), "--fp16", "-o", str(fp16))
    assert code == ExitCode.OK, err
    assert out.startswith("FP16 model written to %s" % fp16) and fp16.exists()

    code, out, err = run(console_env, "accuracy", str(fp16), "--reference", str(model), "--shape",
                         "image:2x3x64x64", "--samples", "4", "--json")
    assert code == ExitCode.OK, err
    report = AccuracyReport.from_wire(json.loads(out))
    assert report.passed and report.samples == 4 and report.outputs[0].name == "logits"

    code, out, _ = run(console_env, "bench", str(model), "--shape", "image:1x3x64x64", "--seconds", "0.3",
                       "--warmup", "0", "--concurrency", "1,2")
    assert code == ExitCode.OK
    assert "P50" in out and "STREAMS" in out and "throughput" in out


def test_dynamic_model_without_shape_names_its_inputs(console_env: ConsoleEnv, model: Path) -> None:
    code, out, err = run(console_env, "bench", str(model), "--seconds", "0.2")
    assert code == ExitCode.JOB_FAILED and out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith("edgectl: benchmark (") and " failed: " in last
    assert "'image'" in last and "batch" in last and "--shape image:1x3x64x64" in last


@pytest.mark.parametrize(("argv", "says"), [
    (["bench", "{model}", "--shape", "image:1x3xfoo"], "edgectl bench: --shape 'image:1x3xfoo': 'foo' is not a"),
    (["bench", "{model}", "--shape", "image"], "needs an input name and its dimensions, e.g. image:1x3x320x320"),
    (["build", "{model}", "--shape", "image:4x3,1x3,8x3", "-o", "{dir}/e.engine"], "min <= opt <= max"),
    (["bench", "{model}", "--concurrency", "1,zero"], "--concurrency: 'zero' is not a stream count"),
    (["validate", "{dir}/nothing.onnx"], "nothing.onnx does not exist; check the path"),
    (["quantize", "{model}", "--int8", "-o", "{dir}/q.onnx"], "--int8 needs calibration data"),
    (["quantize", "{model}", "--int8", "--calib", "{model}", "--size", "640", "-o", "{dir}/q.onnx"],
     "--size '640': give the image height and width as HxW"),
    (["quantize", "{model}", "--fp16", "-o", "{dir}/no/such/q.onnx"], "create it or choose another output path"),
    (["bench", "{model}", "--backend", "trt", "--provider", "CUDAExecutionProvider"], "it needs --backend ort"),
])
def test_malformed_arguments_are_usage_errors(console_env: ConsoleEnv, model: Path, argv: list[str],
                                              says: str) -> None:
    filled = [a.format(model=model, dir=model.parent) for a in argv]
    code, out, err = run(console_env, *filled)
    assert code == ExitCode.USAGE and out == ""
    assert says in err
    assert "Traceback" not in err
    # Nothing reached the device: no daemon was needed to refuse it.
    assert not console_env.local_socket.exists()


def test_device_refusal_is_reported(console_env: ConsoleEnv, model: Path) -> None:
    code, _, err = run(console_env, "bench", str(model), "--backend", "trt", "--shape", "image:1x3x64x64")
    assert code == ExitCode.JOB_FAILED
    assert "local refused the benchmark job" in err and "TensorRT" in err


def test_jobs_show_logs_and_unknown_ids(console_env: ConsoleEnv, model: Path) -> None:
    code, out, _ = run(console_env, "validate", str(model), "--detach", "--label", "nightly check")
    assert code == ExitCode.OK
    job_id = out.strip()
    code, out, err = run(console_env, "job", "wait", job_id)
    assert code == ExitCode.OK and out.startswith("demo.onnx: valid"), err
    code, out, _ = run(console_env, "jobs", "--json")
    jobs = [JobInfo.from_wire(j) for j in json.loads(out)]
    assert [(j.id, j.label, j.state) for j in jobs] == [(job_id, "nightly check", "succeeded")]
    code, out, _ = run(console_env, "jobs")
    assert out.splitlines()[0].split()[:3] == ["ID", "KIND", "STATE"] and "nightly check" in out
    code, out, _ = run(console_env, "job", "show", job_id)
    assert code == ExitCode.OK and "label            nightly check" in out and "demo.onnx: valid" in out
    code, out, _ = run(console_env, "job", "logs", job_id)
    assert code == ExitCode.OK and out.strip()
    code, again, _ = run(console_env, "job", "logs", job_id, "--follow")  # over already: returns at once
    assert code == ExitCode.OK and again == out
    code, out, _ = run(console_env, "job", "cancel", job_id)
    assert code == ExitCode.OK and "is already succeeded" in out
    code, _, err = run(console_env, "job", "show", "nope")
    assert code == ExitCode.JOB_FAILED and "no job with id 'nope'" in err


def test_quantize_result_is_typed(console_env: ConsoleEnv, model: Path) -> None:
    out_path = model.parent / "demo.f16.onnx"
    code, out, err = run(console_env, "quantize", str(model), "--fp16", "--fp16-io", "--keep-fp32", "image", "-o",
                         str(out_path), "--json")
    assert code == ExitCode.OK, err
    result = QuantizeResult.from_wire(json.loads(out))
    assert result.precision == "fp16" and result.output == str(out_path) and result.kept_fp32 == ["image"]
    assert result.size_bytes < result.source_size_bytes
