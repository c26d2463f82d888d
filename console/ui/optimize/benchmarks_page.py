"""The Benchmarks page: every result kept, side-by-side comparison of the selected ones with
latency histogram and CDF, the "not comparable" badge with its reasons, and CSV export.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from console.core.optimize.benchmarks import (
    BenchmarkEntry,
    CompareRow,
    backend_name,
    compare,
    comparison_warnings,
    not_comparable_reasons,
    write_csv,
)
from console.ui.charts.chart import plain_label
from console.ui.jobs.qt_jobs import QtJobs
from console.ui.optimize.benchmark_plots import LatencyPlots
from console.ui.theme import Theme
from device_runtime.protocol import BenchmarkResult

RESULT_COLUMNS = ("Result", "Device", "Backend", "Precision", "Shapes", "p50 ms", "p99 ms", "Mean ms", "CoV",
                  "Inf/s", "mJ/inf", "Comparable")
BADGE_COLOR = "#b7791f"
OK_COLOR = "#2e9e4f"


def _item(text: str, tooltip: str = "", align_right: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    if tooltip:
        item.setToolTip(tooltip)
    if align_right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "ms":
        return "%.2f ms" % value
    if unit == "%":
        return "%.1f %%" % value
    if unit == "mJ":
        return "%.3g mJ" % value
    return "%.1f %s" % (value, unit)


def run_header(entry: BenchmarkEntry) -> str:
    """A comparison column's header: the run's name over two lines at most, and when it ran."""
    title = entry.title.replace(" · ", "\n", 1)
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.finished)) if entry.finished else "date unknown"
    return "%s\n%s" % (title, when)


def difference_text(row: CompareRow, first: int, last: int) -> str:
    """``last`` against ``first``: ``"-2.00 ms (-50 %), better"``; "n/a" where either is missing."""
    base, value = row.values[first], row.values[last]
    if base is None or value is None:
        return "n/a"
    delta = value - base
    if row.unit == "%":
        return "%+.1f points" % delta
    text = _value(delta, row.unit).replace("-", "\u2212")
    if delta > 0:
        text = "+" + text
    if base:
        text += " (%+.0f %%)" % (delta / base * 100)
    if abs(delta) > 1e-9:
        text += ", %s" % ("better" if (delta < 0) == row.lower_is_better else "worse")
    return text


def _energy_item(result: BenchmarkResult) -> QTableWidgetItem:
    """mJ per inference, with the mean power and what was read in the tooltip (or why there is none)."""
    if result.energy_mj_per_inference is None:
        return _item("-", result.energy_note or "recorded by runtimes from this version on", align_right=True)
    tooltip = "mean %.1f W over the measured run; %s" % (result.mean_power_w or 0.0, result.power_source)
    return _item("%.3g" % result.energy_mj_per_inference, tooltip, align_right=True)


class BenchmarksPage(QWidget):
    def __init__(self, model: QtJobs, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.entries: list[BenchmarkEntry] = []
        self.file_dialog: QFileDialog | None = None
        self._filled = False

        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("Save the selected results (or all) as CSV")
        self.notice = plain_label("")
        self.notice.setObjectName("DashboardNotice")
        self.results = QTableWidget(0, len(RESULT_COLUMNS))
        self.results.setHorizontalHeaderLabels(RESULT_COLUMNS)
        self.results.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.results.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.results.verticalHeader().setVisible(False)
        self.results.verticalHeader().setDefaultSectionSize(32)
        self.results.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.results.setAlternatingRowColors(True)
        self.badge = plain_label("")
        self.badge.setWordWrap(True)
        self.comparison = QTableWidget(0, 0)
        self.comparison.verticalHeader().setDefaultSectionSize(26)
        self.comparison.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.plots = LatencyPlots(theme)
        self.empty = plain_label("No benchmark results yet. Run one from the Optimize page or with "
                                 "edgectl bench; select two or more to compare them.")

        bar = QHBoxLayout()
        bar.addWidget(self.export_button)
        bar.addWidget(self.notice, 1)
        compare_box = QWidget()
        compare_layout = QVBoxLayout(compare_box)
        compare_layout.setContentsMargins(0, 0, 0, 0)
        compare_layout.addWidget(self.badge)
        compare_layout.addWidget(self.comparison, 1)
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(compare_box)
        lower.addWidget(self.plots)
        lower.setSizes([700, 500])  # the comparison first: every column of two runs and their difference
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.results)
        split.addWidget(lower)
        split.setSizes([300, 480])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addLayout(bar)
        layout.addWidget(self.empty)
        layout.addWidget(split, 1)

        self.export_button.clicked.connect(self._on_export_clicked)
        self.results.itemSelectionChanged.connect(self._on_selection)
        model.benchmarksChanged.connect(self.reload)
        self.reload()

    # -- what tests read ---------------------------------------------------------------------
    def ready(self) -> bool:
        """Shows every kept result (for --screenshot)."""
        return self.model.tracker.attached and self.results.rowCount() == len(self.model.book.entries())

    def selected_entries(self) -> list[BenchmarkEntry]:
        rows = sorted({index.row() for index in self.results.selectionModel().selectedRows()})
        return [self.entries[r] for r in rows if r < len(self.entries)]

    def select_jobs(self, job_ids: list[str]) -> None:
        self.results.clearSelection()
        mode = self.results.selectionMode()
        self.results.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        for row, entry in enumerate(self.entries):
            if entry.job_id in job_ids:
                self.results.selectRow(row)
        self.results.setSelectionMode(mode)

    # -- building ----------------------------------------------------------------------------
    def reload(self) -> None:
        chosen = {e.job_id for e in self.selected_entries()}
        self.entries = list(reversed(self.model.book.entries()))
        self.results.blockSignals(True)
        self.results.setRowCount(len(self.entries))
        for row, entry in enumerate(self.entries):
            self._fill_row(row, entry)
        for column in range(1, len(RESULT_COLUMNS)):  # the result's name takes the rest
            self.results.resizeColumnToContents(column)
        self.results.blockSignals(False)
        self.empty.setVisible(not self.entries)
        if not chosen and not self._filled and self.entries:
            # First look: compare the two newest results straight away.
            chosen = {e.job_id for e in self.entries[:2]}
        self._filled = self._filled or bool(self.entries)
        if chosen:
            self.select_jobs(sorted(chosen))
        self._on_selection()

    def _fill_row(self, row: int, entry: BenchmarkEntry) -> None:
        r = entry.result
        shapes = ", ".join("%s %s" % (k, "x".join(str(d) for d in v)) for k, v in sorted(r.shapes.items()))
        reasons = not_comparable_reasons(r)
        cells = [
            _item(entry.title, r.model), _item(entry.device), _item(backend_name(r)), _item(r.precision or "-"),
            _item(shapes or "-"), _item("%.2f" % r.latency.median, align_right=True),
            _item("%.2f" % r.latency.p99, align_right=True), _item("%.2f" % r.latency.mean, align_right=True),
            _item("%.1f %%" % (r.latency.cov * 100), align_right=True),
            _item("%.1f" % r.throughput_qps, align_right=True), _energy_item(r),
            _item("⚠ not comparable" if reasons else "✓ comparable", "\n".join(reasons)),
        ]
        cells[-1].setForeground(QColor(BADGE_COLOR if reasons else OK_COLOR))
        for column, cell in enumerate(cells):
            self.results.setItem(row, column, cell)

    def _on_selection(self) -> None:
        chosen = self.selected_entries()
        self.plots.show_entries(chosen)
        self._fill_comparison(chosen)
        warnings = comparison_warnings(chosen)
        if warnings:
            self.badge.setText("⚠ Not comparable: " + "; ".join(warnings))
            self.badge.setStyleSheet("color: %s; font-weight: 600;" % BADGE_COLOR)
        else:
            self.badge.setText("" if len(chosen) < 2 else "✓ Comparable: same conditions")
            self.badge.setStyleSheet("color: %s;" % OK_COLOR)

    def _fill_comparison(self, chosen: list[BenchmarkEntry]) -> None:
        rows = compare(chosen) if chosen else []
        differs = len(chosen) >= 2  # the last chosen against the first (the baseline)
        self.comparison.clear()
        self.comparison.setRowCount(len(rows))
        self.comparison.setColumnCount(len(chosen) + differs)
        headers = [run_header(e) for e in chosen]
        if differs:
            headers.append("Difference\n%s" % ("2nd vs 1st" if len(chosen) == 2 else "last vs 1st"))
        self.comparison.setHorizontalHeaderLabels(headers)
        self.comparison.setVerticalHeaderLabels([row.label for row in rows])
        for r, row in enumerate(rows):
            for c, (value, ratio) in enumerate(zip(row.values, row.ratios(), strict=True)):
                text = _value(value, row.unit)
                if c > 0 and ratio is not None and value is not None and row.unit != "%":
                    text += "  (x%.2f)" % ratio
                self.comparison.setItem(r, c, _item(text, align_right=True))
            if differs:
                self.comparison.setItem(r, len(chosen), _item(difference_text(row, 0, len(chosen) - 1),
                                                              align_right=True))
        self.comparison.resizeColumnsToContents()

    # -- export ------------------------------------------------------------------------------
    def _on_export_clicked(self) -> None:
        if not self.entries:
            self.notice.setText("Nothing to export yet: run a benchmark first.")
            return
        dialog = QFileDialog(self, "Export benchmark results", str(Path.home() / "benchmarks.csv"),
                             "CSV files (*.csv)")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("csv")
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        dialog.fileSelected.connect(self.export_to)
        self.file_dialog = dialog
        dialog.open()

    def export_to(self, path: str) -> bool:
        chosen = self.selected_entries() or self.entries
        target = Path(path)
        try:
            write_csv(target, chosen)
        except OSError as exc:
            self.notice.setText("Could not write %s: %s. Choose another folder." % (target, exc.strerror or exc))
            return False
        self.notice.setText("Exported %d result%s to %s" % (len(chosen), "" if len(chosen) == 1 else "s", target))
        return True
