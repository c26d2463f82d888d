"""Job results as people read them: comparison rows, CSV, distributions, text tables, progress."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest

from console.cli.job_progress import Progress, bar_text, plain_text
from console.core.jobs.report import duration, jobs_table, result_text
from console.core.optimize.benchmarks import (
    CSV_COLUMNS,
    BenchmarkBook,
    BenchmarkEntry,
    cdf,
    common_span,
    compare,
    comparison_warnings,
    histogram,
    to_csv,
    write_csv,
)
from console.core.optimize.summary import pipeline_summary
from device_runtime.protocol import (
    BackendSupport,
    BuildResult,
    JobInfo,
    QuantizeResult,
    TensorInfo,
    ValidateReport,
)
from tests.support.jobs_records import accuracy_report, benchmark_result, finished_job


def _entries() -> list[BenchmarkEntry]:
    fp32 = BenchmarkEntry("a1", "local", benchmark_result("det fp32", median=4.0, seed=1), 10.0)
    int8 = BenchmarkEntry("b2", "local", benchmark_result("det int8", median=2.0, seed=2, precision="int8",
                                                          throttled=True, power_mode="15W"), 20.0)
    return [fp32, int8]


def test_side_by_side_rows_with_ratios_to_the_first() -> None:
    rows = {row.label: row for row in compare(_entries())}
    p50 = rows["latency p50"]
    assert p50.unit == "ms"
    assert p50.values[0] == pytest.approx(4.0, rel=0.02) and p50.values[1] == pytest.approx(2.0, rel=0.02)
    assert p50.ratios()[1] == pytest.approx(0.5, rel=0.03)
    assert rows["throughput"].values == [250.0, 500.0] and not rows["throughput"].lower_is_better
    assert rows["peak RSS"].values == [80.0, 80.0]
    assert "GPU compute p50" not in rows  # neither result separated GPU time


def test_not_comparable_reasons_are_words() -> None:
    warnings = comparison_warnings(_entries())
    assert "det int8: the device throttled during the run (thermal)" in warnings
    assert "measured at different power modes (15W, MAXN)" in warnings
    assert comparison_warnings(_entries()[:1]) == []


def test_csv_export_has_one_row_per_result_in_milliseconds(tmp_path: Path) -> None:
    entries = _entries()
    rows = list(csv.DictReader(io.StringIO(to_csv(entries))))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [r["label"] for r in rows] == ["det fp32", "det int8"]
    assert float(rows[0]["median_ms"]) == pytest.approx(entries[0].result.latency.median, rel=1e-5)
    assert rows[0]["shapes"] == "image=1x3x64x64" and rows[0]["started_utc"] == "2023-11-14T22:13:20+00:00"
    assert rows[0]["comparable"] == "yes" and rows[1]["comparable"] == "no"
    assert "throttled" in rows[1]["not_comparable"]
    target = tmp_path / "out.csv"
    write_csv(target, entries)
    assert target.read_text() == to_csv(entries)
    with pytest.raises(OSError):
        write_csv(tmp_path / "missing" / "out.csv", entries)
    assert not (tmp_path / "missing").exists()


def test_a_damaged_book_line_is_reported_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "bench.jsonl"
    book = BenchmarkBook(path)
    for entry in _entries():
        assert book.add(entry)
    assert not book.add(_entries()[0])  # the same job twice is kept once
    with path.open("a") as handle:
        handle.write("{not json\n")
    again = BenchmarkBook(path)
    assert [e.job_id for e in again.entries()] == ["a1", "b2"]
    assert len(again.problems) == 1 and "line 3" in again.problems[0] and "left in the file" in again.problems[0]
    assert path.read_text().endswith("{not json\n")


def test_histogram_shares_and_cdf() -> None:
    samples = list(np.linspace(1.0, 2.0, 101))
    edges, share = histogram(samples, bins=10)
    assert len(edges) == 11 and share.sum() == pytest.approx(1.0)
    xs, ys = cdf(samples)
    assert xs[0] == 1.0 and ys[-1] == 1.0 and np.all(np.diff(ys) > 0)
    assert common_span(_entries()) is not None
    empty_edges, empty_share = histogram([], bins=10)
    assert empty_edges.size == 0 and empty_share.size == 0


def test_benchmark_text_shows_percentiles_and_the_badge() -> None:
    text = result_text(_entries()[1].result)
    assert text.startswith("det int8: det.int8.onnx · ort (CPUExecutionProvider) · int8 · image 1x3x64x64")
    assert "NOT COMPARABLE: the device throttled during the run (thermal)" in text
    header = next(line for line in text.splitlines() if line.startswith("LATENCY ms"))
    assert header.split() == ["LATENCY", "ms", "N", "MIN", "MEAN", "P50", "P90", "P95", "P99", "MAX", "COV"]
    assert "throughput 500.0 inferences/s over 5.0s" in text
    assert "STREAMS" in text and "power mode 15W" in text
    assert "energy" not in text
    measured = _entries()[1].result
    measured.mean_power_w, measured.energy_mj_per_inference = 9.25, 18.5
    measured.power_source = "Jetson VDD_IN rail (whole module)"
    assert "energy 18.5 mJ per inference at a mean 9.2 W (Jetson VDD_IN rail (whole module))" in result_text(measured)
    measured.energy_mj_per_inference, measured.energy_note = None, "this device gives no power readings"
    assert "energy: this device gives no power readings" in result_text(measured)


def test_other_results_as_text() -> None:
    failing = accuracy_report(passed=False)
    assert "det.int8.onnx against det.onnx: FAIL" in result_text(failing)
    assert "logits" in result_text(failing) and "FAIL" in result_text(failing).splitlines()[-1]
    report = ValidateReport("/m/det.onnx", ok=False, checker_error="Node (x) has no input",
                            inputs=[TensorInfo("image", "float32", ["batch", 3, 64, 64])],
                            backends=[BackendSupport("tensorrt", False, note="TensorRT is not installed")])
    text = result_text(report)
    assert "det.onnx: NOT VALID" in text and "checker: Node (x) has no input" in text
    assert "[batch, 3, 64, 64]" in text and "not on this device (TensorRT is not installed)" in text
    quant = result_text(QuantizeResult("/m/det.int8.onnx", "int8", 500_000, 2_000_000, "minmax", 64, 12))
    assert "INT8 model written to /m/det.int8.onnx" in quant and "(25% of 2.0 MB)" in quant
    proven = result_text(QuantizeResult("/m/old.int8.onnx", "int8", 1, 2, notes=["opset upgraded from 11 to 13"],
                                        proof="onnx.checker passed; ONNX Runtime 1.32.0 ran one sample"))
    assert "note: opset upgraded from 11 to 13" in proven and "checked: onnx.checker passed" in proven
    build = result_text(BuildResult("/m/det.engine", 3_000_000, "10.3.0", "api", 125.0, ["fp16"]))
    assert "build time    2m05s" in build and "precision     fp16" in build


def test_durations() -> None:
    assert [duration(s) for s in (None, 3.21, 42, 125, 7300)] == ["-", "3.2s", "42s", "2m05s", "2h01m"]


def test_jobs_table_and_pipeline_summary() -> None:
    jobs = [finished_job("b2", "benchmark", benchmark_result("det int8", median=2.0), created=200.0),
            finished_job("a1", "benchmark", benchmark_result("det fp32", median=4.0), created=100.0)]
    table = jobs_table(jobs, now=260.0)
    assert table.splitlines()[0].split() == ["ID", "KIND", "STATE", "DONE", "STAGE", "LABEL", "CREATED"]
    assert "b2  benchmark  succeeded  100%  done" in table and "1m00s ago" in table
    summary = pipeline_summary([*reversed(jobs), finished_job("c3", "accuracy", accuracy_report())])
    assert summary.startswith("Done. det int8: p50 2.0") and "x faster" in summary
    assert "Accuracy passed against the FP32 reference" in summary
    slower = [finished_job("a1", "benchmark", benchmark_result("fp32", median=2.0)),
              finished_job("b2", "benchmark", benchmark_result("int8", median=3.0))]
    assert "(FP32 baseline p50 2.0" in pipeline_summary(slower) and "x slower)" in pipeline_summary(slower)
    failed = JobInfo("q1", "quantize", "failed", {}, error="no calibration files in /data")
    assert pipeline_summary([failed]) == "Quantize (q1) failed: no calibration files in /data"


def _running(progress: float, stage: str, eta: float | None = None) -> JobInfo:
    return JobInfo("j1", "build", "running", {}, progress=progress, stage=stage, eta_s=eta)


def test_progress_bar_and_plain_lines() -> None:
    assert bar_text(_running(0.45, "tactic timing", 80)) == (
        "[###########-------------]  45%  build · tactic timing · 1m20s left")
    assert plain_text(_running(0.45, "tactic timing", 80)) == "job j1 build: running 45% tactic timing (1m20s left)"
    out = io.StringIO()
    plain = Progress(out, tty=False, clock=lambda: 0.0)
    for fraction in (0.01, 0.02, 0.05, 0.12, 0.13):
        plain.update(_running(fraction, "tactic timing"))
    plain.update(_running(0.13, "writing engine"))
    # One line per 10 % step or stage change, never a carriage return in a log file.
    assert out.getvalue().splitlines() == [
        "job j1 build: running 1% tactic timing", "job j1 build: running 12% tactic timing",
        "job j1 build: running 13% writing engine"]
    tty_out, now = io.StringIO(), [0.0]
    bar = Progress(tty_out, tty=True, clock=lambda: now[0])
    bar.update(_running(0.1, "parsing"))
    bar.update(_running(0.2, "parsing"))  # within 0.1 s: not redrawn
    now[0] = 1.0
    bar.update(_running(0.3, "parsing"))
    bar.end()
    drawn = tty_out.getvalue()
    assert drawn.count("\r") == 2 and "30%" in drawn and "20%" not in drawn and drawn.endswith("\n")
