"""trtexec log parser over real logs of TensorRT 7.x to 10.16 (see tests/fixtures/trtexec/README.md)."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pytest

from device_runtime.engines.trtexec_parse import (
    parse_export_times,
    parse_trtexec_log,
    strip_prefix,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "trtexec"

# file -> expected values, copied by hand from each log.
CASES = {
    "trt7x_jetson_resnet50_fp16.log": dict(
        version=None, device=None, cc=None, fmt="legacy", qps=37.0368, passed=True, transfers=None,
        gpu=(26.7439, 28.9368, 26.925, 26.9075), gpu_p={99.0: 27.0562},
        lat=(26.8054, 29.0007, 26.9861, 26.9689), lat_p={99.0: 27.1187},
        e2e=(26.8135, 29.0186, 26.9996, 26.9833), e2e_p={99.0: 27.1382},
        walltime=3.05102, gpu_total=3.04253, queries=113,
    ),
    "trt8003_gtx1070_fp32_build.log": dict(
        version="8.0.3", device="NVIDIA GeForce GTX 1070", cc="6.1", fmt="end_to_end", qps=6430.89, passed=True,
        transfers=True, gpu=(0.151367, 0.373779, 0.15368, 0.153564), gpu_p={99.0: 0.156677},
        lat=(0.156982, 0.384766, 0.160129, 0.159668), lat_p={99.0: 0.165771},
        e2e=(0.171387, 0.504395, 0.284758, 0.289673), e2e_p={99.0: 0.298828},
        walltime=3.00036, gpu_total=2.96525, queries=19295,
    ),
    "trt8203_gtx1070_fp32_build.log": dict(
        version="8.2.3", device="NVIDIA GeForce GTX 1070", cc="6.1", fmt="end_to_end", qps=6239.67, passed=True,
        transfers=True, gpu=(0.151489, 0.449463, 0.154082, 0.153595), gpu_p={99.0: 0.158508},
        lat=(0.157104, 0.455322, 0.160566, 0.160156), lat_p={99.0: 0.165894},
        e2e=(0.165344, 0.590454, 0.287156, 0.290894), e2e_p={99.0: 0.300659},
        walltime=3.00048, gpu_total=2.88472, queries=18722,
    ),
    "trt8401_gtx1070_fp16_build.log": dict(
        version="8.4.1", device="NVIDIA GeForce GTX 1070", cc="6.1", fmt="single_percentile", qps=6175.47,
        passed=True, transfers=True, gpu=(0.151367, 0.446533, 0.154432, 0.153595), gpu_p={99.0: 0.159912},
        lat=(0.157104, 0.453369, 0.160819, 0.160095), lat_p={99.0: 0.167969}, e2e=None, e2e_p=None,
        walltime=3.00042, gpu_total=2.86147, queries=18529,
    ),
    "trt8502_orin_nano_yolox_fp16_summary.log": dict(
        version="8.5.2", device=None, cc=None, fmt="multi_percentile", qps=97.8649, passed=True, transfers=True,
        gpu=(10.0343, 10.3575, 10.1824, 10.1851), gpu_p={90.0: 10.3206, 95.0: 10.338, 99.0: 10.356},
        lat=(10.642, 10.9861, 10.7971, 10.7972), lat_p={90.0: 10.9329, 95.0: 10.949, 99.0: 10.9744},
        e2e=None, e2e_p=None, walltime=3.0348, gpu_total=3.02418, queries=None,
    ),
    "trt8600_rtx3090_load_fp32.log": dict(
        version="8.6.0", device="NVIDIA GeForce RTX 3090", cc="8.6", fmt="multi_percentile", qps=21009.2,
        passed=True, transfers=True, gpu=(0.041748, 0.609253, 0.0451127, 0.0439453),
        gpu_p={90.0: 0.0449219, 95.0: 0.045105, 99.0: 0.0521851},
        lat=(0.0490112, 0.617065, 0.0533242, 0.0517578), lat_p={90.0: 0.0532227, 95.0: 0.053772, 99.0: 0.0630798},
        e2e=None, e2e_p=None, walltime=3.00012, gpu_total=2.84346, queries=63030,
    ),
    "trt101601_h100_build.log": dict(
        version="10.16.1", device="NVIDIA H100 PCIe", cc="9.0", fmt="multi_percentile", qps=15374.3, passed=True,
        transfers=True, gpu=(0.0331421, 0.140381, 0.0359588, 0.0361328),
        gpu_p={90.0: 0.0368652, 95.0: 0.0371094, 99.0: 0.041748},
        lat=(0.0410156, 0.14917, 0.0441053, 0.0440674), lat_p={90.0: 0.0450439, 95.0: 0.0458984, 99.0: 0.0512695},
        e2e=None, e2e_p=None, walltime=3.00013, gpu_total=1.6586, queries=46125,
    ),
    "trt101601_h100_nodatatransfers.log": dict(
        version="10.16.1", device="NVIDIA H100 PCIe", cc="9.0", fmt="multi_percentile", qps=24896.9, passed=True,
        transfers=False, gpu=(0.0383301, 0.0651855, 0.0387646, 0.0388184),
        gpu_p={90.0: 0.0388489, 95.0: 0.0389404, 99.0: 0.0390625},
        lat=(0.0383301, 0.0651855, 0.0387646, 0.0388184), lat_p={90.0: 0.0388489, 95.0: 0.0389404, 99.0: 0.0390625},
        e2e=None, e2e_p=None, walltime=3.00005, gpu_total=2.89541, queries=74692,
    ),
}

_PREFIX = re.compile(r"^\[\d{2}/\d{2}/\d{4}-\d{2}:\d{2}:\d{2}\] (\[\d{2}/\d{2}/\d{4}-\d{2}:\d{2}:\d{2}\] )*")


def _read(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def _variants(text: str):
    yield "as-is", text
    # Pasted without timestamps but with "[I] " (common in issues).
    yield "no-time", "\n".join(_PREFIX.sub("", line) for line in text.splitlines())
    # Pasted with every prefix gone.
    yield "bare", "\n".join(strip_prefix(line) for line in text.splitlines())


def _check(stats, expected, percentiles):
    if expected is None:
        assert stats is None
        return
    assert (stats.min, stats.max, stats.mean, stats.median) == pytest.approx(expected)
    assert stats.percentiles == pytest.approx(percentiles)


@pytest.mark.parametrize("variant", ["as-is", "no-time", "bare"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_parses_every_fixture(name: str, variant: str) -> None:
    text = dict(_variants(_read(name)))[variant]
    want = CASES[name]
    report = parse_trtexec_log(text)
    assert report.trt_version == want["version"]
    assert report.device == want["device"]
    assert report.compute_capability == want["cc"]
    assert report.summary_format == want["fmt"]
    assert report.throughput_qps == pytest.approx(want["qps"])
    assert report.passed is want["passed"]
    assert report.data_transfers_included is want["transfers"]
    _check(report.gpu_compute_time, want["gpu"], want["gpu_p"])
    _check(report.latency, want["lat"], want["lat_p"])
    _check(report.end_to_end_host_latency, want["e2e"], want["e2e_p"])
    assert report.total_host_walltime_s == pytest.approx(want["walltime"])
    assert report.total_gpu_compute_time_s == pytest.approx(want["gpu_total"])
    assert report.query_count == want["queries"]


def test_fixture_set_covers_every_format() -> None:
    formats = {CASES[name]["fmt"] for name in CASES}
    assert formats == {"legacy", "end_to_end", "single_percentile", "multi_percentile"}
    assert len(list(FIXTURES.glob("*.log"))) >= 6


def test_version_code_status_line_and_build() -> None:
    report = parse_trtexec_log(_read("trt101601_h100_build.log"))
    assert report.trt_build == "11"
    assert report.engine_build_s == pytest.approx(8.09138)
    onnx = "/work/trt-samples-for-hackathon-cn/cookbook/00-Data/model/model-trained.onnx"
    assert report.command_line == "trtexec --onnx=" + onnx
    assert report.cuda_graph is False and report.spin_wait is False


def test_warnings_and_cov_are_collected() -> None:
    report = parse_trtexec_log(_read("trt101601_h100_build.log"))
    assert report.warnings[0] == "[TRT] ModelImporter.cpp:994: Make sure output z has Int64 binding."
    assert "* GPU compute time is unstable, with coefficient of variance = 6.58751%." in report.warnings
    assert report.gpu_compute_time is not None and report.gpu_compute_time.cov_percent == pytest.approx(6.58751)
    rtx = parse_trtexec_log(_read("trt8600_rtx3090_load_fp32.log"))
    assert rtx.gpu_compute_time is not None and rtx.gpu_compute_time.cov_percent == pytest.approx(44.3558)


def test_failed_run_has_no_summary() -> None:
    report = parse_trtexec_log(_read("trt8203_gtx1070_fp16_failed.log"))
    assert report.passed is False
    assert not report.has_summary
    assert report.command_line is not None and report.command_line.endswith("--verbose --fp16")


def test_no_data_transfers_means_latency_is_gpu_compute() -> None:
    report = parse_trtexec_log(_read("trt101601_h100_nodatatransfers.log"))
    assert report.latency_is_gpu_compute
    assert report.cuda_graph is True and report.spin_wait is True
    assert report.h2d_latency is not None and report.h2d_latency.max == 0.0


def test_legacy_enqueue_block_has_no_mean() -> None:
    report = parse_trtexec_log(_read("trt7x_jetson_resnet50_fp16.log"))
    assert report.enqueue_time is not None
    assert (report.enqueue_time.min, report.enqueue_time.max, report.enqueue_time.median) == (1.73877, 2.31958, 1.80298)
    assert report.enqueue_time.mean is None


def test_to_json_round_trips() -> None:
    data = json.loads(parse_trtexec_log(_read("trt8502_orin_nano_yolox_fp16_summary.log")).to_json())
    assert data["trt_version"] == "8.5.2"
    assert data["gpu_compute_time"]["percentiles"] == {"90": 10.3206, "95": 10.338, "99": 10.356}
    assert data["latency_is_gpu_compute"] is False


# SYNTHETIC: no public TensorRT 11 trtexec summary was found. Lines follow sampleOptions.cpp /
# sampleReporting.cpp at NVIDIA/TensorRT v11.1; the numbers are invented for the test.
_T = "[06/30/2026-10:00:03] [I] "
_PCTS = "percentile(90%) = {} ms, percentile(95%) = {} ms, percentile(99%) = {} ms"
_GPU = "min = 3.9 ms, max = 4.4 ms, mean = 4.0 ms, median = 3.99 ms, " + _PCTS.format(4.1, 4.2, 4.3)
_ENQ = "min = 0.01 ms, max = 0.05 ms, mean = 0.02 ms, median = 0.02 ms, " + _PCTS.format(0.03, 0.03, 0.04)
_ZERO = "min = 0 ms, max = 0 ms, mean = 0 ms, median = 0 ms, " + _PCTS.format(0, 0, 0)
TRT11_SYNTHETIC = "\n".join(
    [
        "&&&& RUNNING TensorRT.trtexec [TensorRT v110100] [b5] # trtexec --loadEngine=m.plan",
        "[06/30/2026-10:00:00] [I] Data transfers: Disabled",
        "[06/30/2026-10:00:00] [I] Spin-wait: Enabled",
        "[06/30/2026-10:00:00] [I] CUDA Graph: Enabled",
        "[06/30/2026-10:00:00] [I] Selected Device: Orin (nvgpu)",
        "[06/30/2026-10:00:00] [I] Compute Capability: 8.7",
        "[06/30/2026-10:00:00] [I] TensorRT version: 11.1.0",
        _T + "=== Performance summary ===",
        _T + "Throughput: 250.5 qps",
        _T + "Latency: " + _GPU,
        _T + "Enqueue Time: " + _ENQ,
        _T + "H2D Latency: " + _ZERO,
        _T + "GPU Compute Time: " + _GPU,
        _T + "D2H Latency: " + _ZERO,
        _T + "Total Host Walltime: 3.002 s",
        _T + "Total GPU Compute Time: 3.0 s",
        "&&&& PASSED TensorRT.trtexec [TensorRT v110100] [b5] # trtexec --loadEngine=m.plan",
    ]
)


def test_trt11_defaults_synthetic() -> None:
    report = parse_trtexec_log(TRT11_SYNTHETIC)
    assert report.trt_version == "11.1.0"
    assert report.data_transfers_included is False
    assert report.latency_is_gpu_compute
    assert report.gpu_compute_time is not None and report.gpu_compute_time.median == 3.99


def test_trt11_default_without_option_lines_means_no_transfers() -> None:
    summary_only = "\n".join(
        line
        for line in TRT11_SYNTHETIC.splitlines()
        if not any(word in line for word in ("Data transfers", "H2D", "D2H"))
    )
    assert parse_trtexec_log(summary_only).data_transfers_included is False
    included = summary_only.replace("--loadEngine=m.plan", "--loadEngine=m.plan --includeDataTransfers")
    assert parse_trtexec_log(included).data_transfers_included is True


def test_export_times_stats_use_trtexec_percentiles() -> None:
    report = parse_export_times((FIXTURES / "export_times_generated.json").read_text(encoding="utf-8"))
    assert report.query_count == 12
    gpu = report.gpu_compute_time
    assert (gpu.min, gpu.max, gpu.median) == pytest.approx((1.48, 1.90, 1.505))
    assert gpu.percentiles == pytest.approx({90.0: 1.53, 95.0: 1.90, 99.0: 1.90})
    assert gpu.mean == pytest.approx(sum([1.5, 1.52, 1.49, 1.51, 1.53, 1.5, 1.9, 1.5, 1.51, 1.48, 1.52, 1.5]) / 12)
    samples = [1.5, 1.52, 1.49, 1.51, 1.53, 1.5, 1.9, 1.5, 1.51, 1.48, 1.52, 1.5]
    assert gpu.cov_percent == pytest.approx(statistics.pstdev(samples) / statistics.fmean(samples) * 100)
    assert report.gpu_compute_unstable
    assert report.latency.median == pytest.approx(1.655)
    assert report.enqueue_time is not None and report.enqueue_time.max == pytest.approx(0.2)
    assert report.data_transfers_included is True
    assert report.throughput_qps == pytest.approx(12 / (report.span_ms or 1) * 1000)
    assert json.loads(report.to_json())["gpu_compute_unstable"] is True


@pytest.mark.parametrize("bad", ["{}", "[]", '[{"computeMs": 1}]', '[{"computeMs": "x", "latencyMs": 1}]'])
def test_export_times_rejects_bad_input(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_export_times(bad)
