"""``edge-runtime parse-trtexec`` over the real trtexec logs in tests/fixtures/trtexec."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from device_runtime.cli import RuntimeEnv, main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "trtexec"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["parse-trtexec", *argv], RuntimeEnv(environ={}, stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("name", "lines"),
    [
        ("trt101601_h100_build.log", ["TensorRT:                 10.16.1", "Device:                   NVIDIA H100 PCIe",
                                      "Throughput:               1.537e+04 qps", "Result:                   PASSED",
                                      "GPU compute:              min 0.03314"]),
        ("trt8502_orin_nano_yolox_fp16_summary.log", ["Result:                   PASSED", "p99 "]),
        ("trt7x_jetson_resnet50_fp16.log", ["Throughput:               37.04 qps",
                                            "End-to-end host latency:  min 26.81"]),
        ("trt8203_gtx1070_fp16_failed.log", ["Result:                   FAILED"]),
        ("export_times_generated.json", ["--exportTimes trace: 12 queries", "GPU compute:              min 1.48"]),
    ],
)
def test_text_report(name: str, lines: list[str]) -> None:
    code, out, err = run(str(FIXTURES / name))
    assert code == 0 and err == ""
    for line in lines:
        assert line in out, out


def test_json_report_matches_the_parser() -> None:
    code, out, _ = run(str(FIXTURES / "trt8600_rtx3090_load_fp32.log"), "--json")
    data = json.loads(out)
    assert code == 0 and data["trt_version"] == "8.6.0" and data["passed"] is True
    assert set(data["gpu_compute_time"]["percentiles"]) == {"90", "95", "99"}
    code, out, _ = run(str(FIXTURES / "export_times_generated.json"), "--json")
    assert json.loads(out)["query_count"] == 12


def test_files_that_are_not_trtexec_output(tmp_path: Path) -> None:
    code, out, err = run(str(tmp_path / "missing.log"))
    assert code == 1 and out == "" and "cannot read" in err
    (tmp_path / "notes.txt").write_text("hello\n")
    code, _, err = run(str(tmp_path / "notes.txt"))
    assert code == 1 and "holds no trtexec output" in err
    (tmp_path / "bad.json").write_text('[{"startEnqMs": 1}]')
    code, _, err = run(str(tmp_path / "bad.json"))
    assert code == 1 and "not an --exportTimes trace" in err
