"""The Benchmarks page: results table, the not-comparable badge, side-by-side comparison,
histogram and CDF, and CSV export through the file dialog."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from console.core.optimize.benchmarks import BenchmarkBook
from console.ui.devices.qt_session import QtSession
from console.ui.jobs.qt_jobs import QtJobs
from console.ui.optimize.benchmarks_page import RESULT_COLUMNS, BenchmarksPage
from console.ui.theme import Theme
from device_runtime.protocol import TOPIC_JOB, Event
from tests.support.jobs_records import benchmark_result, finished_job

pytestmark = pytest.mark.gui


@pytest.fixture
def jobs(local_model: QtSession, tmp_path: Path) -> Iterator[QtJobs]:
    model = QtJobs(local_model, BenchmarkBook(tmp_path / "benchmarks.jsonl"))
    yield model
    model.close()


def _finish(jobs: QtJobs, job_id: str, label: str, created: float, **kwargs: object) -> None:
    result = benchmark_result(label, **kwargs)  # type: ignore[arg-type]
    info = finished_job(job_id, "benchmark", result, label=label, created=created)
    jobs.tracker.handle_event(Event(TOPIC_JOB, info.to_wire()))


def _text(page: BenchmarksPage, row: int, column: str) -> str:
    item = page.results.item(row, RESULT_COLUMNS.index(column))
    assert item is not None
    return item.text()


def test_results_compare_side_by_side_with_the_badge(qtbot: QtBot, jobs: QtJobs, theme: Theme) -> None:
    page = BenchmarksPage(jobs, theme)
    qtbot.addWidget(page)
    assert page.empty.isVisibleTo(page) and page.results.rowCount() == 0
    with qtbot.waitSignal(jobs.benchmarksChanged):
        _finish(jobs, "a1", "det fp32", 100.0, median=4.0)
    _finish(jobs, "b2", "det int8", 200.0, median=2.0, seed=2, precision="int8", throttled=True)
    qtbot.waitUntil(lambda: page.results.rowCount() == 2, timeout=5_000)
    assert not page.empty.isVisibleTo(page)
    assert _text(page, 0, "Result") == "det int8" and _text(page, 1, "Result") == "det fp32"
    assert _text(page, 0, "Comparable") == "⚠ not comparable"
    assert "throttled" in page.results.item(0, RESULT_COLUMNS.index("Comparable")).toolTip()  # type: ignore[union-attr]
    assert _text(page, 1, "Comparable") == "✓ comparable" and _text(page, 1, "Backend") == "ort (CPU)"
    assert float(_text(page, 1, "p50 ms")) == pytest.approx(4.0, rel=0.03)

    page.select_jobs(["a1", "b2"])
    assert [e.job_id for e in page.selected_entries()] == ["b2", "a1"]
    assert page.badge.text().startswith("⚠ Not comparable: det int8: the device throttled during the run (thermal)")
    assert "different power modes" not in page.badge.text()
    headers = [page.comparison.horizontalHeaderItem(c).text() for c in range(3)]  # type: ignore[union-attr]
    assert headers == ["det int8\n%s" % _when(206.0), "det fp32\n%s" % _when(106.0), "Difference\n2nd vs 1st"]
    labels = [page.comparison.verticalHeaderItem(r).text() for r in range(page.comparison.rowCount())]  # type: ignore[union-attr]
    p50 = labels.index("latency p50")
    int8, fp32 = (e.result.latency.median for e in page.selected_entries())
    cell = page.comparison.item(p50, 1)
    assert cell is not None and cell.text() == "%.2f ms  (x%.2f)" % (fp32, fp32 / int8)
    assert len(page.plots.curves) == 4  # a histogram and a CDF per selected result
    xs, ys = page.plots.curves[1].getData()
    assert ys[-1] == pytest.approx(1.0) and xs[0] <= xs[-1]

    page.select_jobs(["a1"])
    assert page.badge.text() == "" and page.comparison.columnCount() == 1 and len(page.plots.curves) == 2


def _when(finished: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(finished))


def test_two_runs_compare_with_their_dates_and_difference_and_nothing_cut(qtbot: QtBot, jobs: QtJobs,
                                                                          theme: Theme) -> None:
    page = BenchmarksPage(jobs, theme)
    qtbot.addWidget(page)
    page.resize(1100, 750)  # the page beside the sidebar in a 1400 x 900 window
    page.show()
    _finish(jobs, "a1", "detector.onnx · ort (CPU) · fp32", 1_790_000_000.0, median=4.0)
    _finish(jobs, "b2", "detector.fp16.onnx · ort (CPU) · fp16", 1_790_000_600.0, median=2.0, precision="fp16")
    qtbot.waitUntil(lambda: page.results.rowCount() == 2, timeout=5_000)
    page.select_jobs(["a1", "b2"])
    table = page.comparison
    qtbot.waitUntil(lambda: table.columnCount() == 3, timeout=5_000)
    header = table.horizontalHeaderItem(0)
    assert header is not None and header.text() == "detector.fp16.onnx\nort (CPU) · fp16\n%s" % _when(1_790_000_606.0)
    labels = [table.verticalHeaderItem(r).text() for r in range(table.rowCount())]  # type: ignore[union-attr]
    fp16, fp32 = (e.result.latency.median for e in page.selected_entries())
    p50 = table.item(labels.index("latency p50"), 2)
    assert p50 is not None and p50.text() == "+%.2f ms (%+.0f %%), worse" % (fp32 - fp16, (fp32 / fp16 - 1) * 100)
    qps = table.item(labels.index("throughput"), 2)
    assert qps is not None and qps.text().startswith("\u2212") and qps.text().endswith(", worse")
    for column in range(3):  # every column whole inside the table's view, no scrolling needed
        right = table.columnViewportPosition(column) + table.columnWidth(column)
        assert right <= table.viewport().width(), (column, right, table.viewport().width())


def test_csv_export_through_the_file_dialog(qtbot: QtBot, jobs: QtJobs, theme: Theme, tmp_path: Path) -> None:
    page = BenchmarksPage(jobs, theme)
    qtbot.addWidget(page)
    page.export_button.click()
    assert page.file_dialog is None and page.notice.text() == "Nothing to export yet: run a benchmark first."
    _finish(jobs, "a1", "det fp32", 100.0)
    _finish(jobs, "b2", "det fp16", 200.0, precision="fp16")
    qtbot.waitUntil(lambda: page.results.rowCount() == 2, timeout=5_000)
    page.select_jobs(["b2"])
    page.export_button.click()
    dialog = page.file_dialog
    assert isinstance(dialog, QFileDialog) and dialog.acceptMode() == QFileDialog.AcceptMode.AcceptSave
    target = tmp_path / "results.csv"
    dialog.selectFile(str(target))
    dialog.accept()
    qtbot.waitUntil(target.exists, timeout=5_000)
    rows = list(csv.DictReader(target.open()))
    assert [r["label"] for r in rows] == ["det fp16"] and rows[0]["job"] == "b2"
    assert page.notice.text() == "Exported 1 result to %s" % target
    page.results.clearSelection()
    assert page.export_to(str(tmp_path / "all.csv"))
    assert len(list(csv.DictReader((tmp_path / "all.csv").open()))) == 2
    # A folder that does not exist: a sentence, and nothing half-written.
    assert not page.export_to(str(tmp_path / "gone" / "x.csv"))
    assert page.notice.text().startswith("Could not write %s" % (tmp_path / "gone" / "x.csv"))
    assert page.notice.text().endswith("Choose another folder.")


def _finish_with_energy(jobs: QtJobs, job_id: str, label: str, created: float, watts: float | None,
                        precision: str = "fp32") -> None:
    result = benchmark_result(label, precision=precision)
    if watts is None:
        result.energy_note = "this device gives no power readings (no Jetson power rails, no NVML power)"
    else:
        result.mean_power_w = watts
        result.energy_mj_per_inference = watts * 1000.0 / result.throughput_qps
        result.power_source = "Jetson VDD_IN rail (whole module)"
    info = finished_job(job_id, "benchmark", result, label=label, created=created)
    jobs.tracker.handle_event(Event(TOPIC_JOB, info.to_wire()))


def test_energy_per_inference_is_shown_and_compared(qtbot: QtBot, jobs: QtJobs, theme: Theme) -> None:
    page = BenchmarksPage(jobs, theme)
    qtbot.addWidget(page)
    _finish_with_energy(jobs, "a1", "det fp32", 100.0, 9.25)
    _finish_with_energy(jobs, "b2", "det fp16", 200.0, 6.0, precision="fp16")
    _finish_with_energy(jobs, "c3", "det on a laptop", 300.0, None)
    qtbot.waitUntil(lambda: page.results.rowCount() == 3, timeout=5_000)
    column = RESULT_COLUMNS.index("mJ/inf")
    assert _text(page, 2, "Result") == "det fp32" and _text(page, 2, "mJ/inf") == "18.5"  # 9.25 W at 500 inf/s
    tooltip = page.results.item(2, column).toolTip()  # type: ignore[union-attr]
    assert "mean 9.2 W over the measured run; Jetson VDD_IN rail" in tooltip
    assert _text(page, 0, "mJ/inf") == "-"
    assert "no power readings" in page.results.item(0, column).toolTip()  # type: ignore[union-attr]
    page.select_jobs(["a1", "b2"])
    labels = [page.comparison.verticalHeaderItem(r).text() for r in range(page.comparison.rowCount())]  # type: ignore[union-attr]
    row = labels.index("energy per inference")
    cell = page.comparison.item(row, 1)
    assert cell is not None and cell.text() == "18.5 mJ  (x1.54)"  # fp32 against the fp16 baseline
    assert page.comparison.item(labels.index("mean power"), 0).text() == "6.0 W"  # type: ignore[union-attr]
