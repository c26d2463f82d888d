"""The Jobs page: every job of the device with its state, progress and time left; the selected
job's details and live log; cancel after a confirmation that names the job.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QItemSelection, Qt, QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from console.core.jobs.report import job_details, result_text
from console.core.jobs.tracker import is_final, job_title, typed_result
from console.ui.charts.chart import plain_label
from console.ui.jobs.qt_jobs import QtJobs
from console.ui.jobs.table import COLUMNS, PROGRESS_COLUMN, ROW_HEIGHT, JobTableModel, ProgressDelegate
from device_runtime.protocol import ProtocolError

MAX_LOG_BLOCKS = 20_000
TICK_MS = 1000  # "running 12s" and ETAs move between device updates


def log_view() -> QPlainTextEdit:
    """A read-only monospace view for device text (plain text, never markup)."""
    view = QPlainTextEdit()
    view.setReadOnly(True)
    view.setMaximumBlockCount(MAX_LOG_BLOCKS)
    view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
    font = QFont("monospace")
    font.setStyleHint(QFont.StyleHint.TypeWriter)
    view.setFont(font)
    return view


def job_table_view(model: JobTableModel, compact: bool = False) -> QTableView:
    """The jobs table; ``compact`` hides the creation time and id (the Optimize page's steps)."""
    view = QTableView()
    view.setModel(model)
    view.setItemDelegateForColumn(PROGRESS_COLUMN, ProgressDelegate(view))
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setStretchLastSection(False)
    for column, width in enumerate((230, 110, 260, 110, 80, 110)):
        view.setColumnWidth(column, width)
    header.setSectionResizeMode(PROGRESS_COLUMN, QHeaderView.ResizeMode.Stretch)
    if compact:
        for column in (COLUMNS.index("Created"), COLUMNS.index("ID")):
            view.hideColumn(column)
    return view


class JobsPage(QWidget):
    def __init__(self, model: QtJobs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.selected: str | None = None
        self.confirm_box: QMessageBox | None = None
        self._log_shown_end = 0
        self._log_loaded = threading.Event()  # the selected job's log has been read once
        self._log_loaded.set()

        self.table_model = JobTableModel(model.tracker)
        self.table = job_table_view(self.table_model)
        self.cancel_button = QPushButton("Cancel job…")
        self.cancel_button.setEnabled(False)
        self.cancel_button.setToolTip("Stop the selected job on the device (asks first)")
        self.refresh_button = QPushButton("Refresh")
        self.notice = plain_label("")
        self.notice.setObjectName("DashboardNotice")
        self.details = plain_label("Select a job to see its details and log.")
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.details.setFont(QFont("monospace"))
        self.log = log_view()

        bar = QHBoxLayout()
        bar.addWidget(self.cancel_button)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.notice, 1)
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(self.details)
        lower.addWidget(self.log)
        lower.setSizes([420, 780])
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(lower)
        split.setSizes([360, 440])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addLayout(bar)
        layout.addWidget(split, 1)

        self._tick = QTimer(self)
        self._tick.setInterval(TICK_MS)
        self._tick.timeout.connect(self._on_tick)
        self._tick.start()
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.refresh_button.clicked.connect(model.refresh)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        model.jobChanged.connect(self._on_job_changed)
        model.jobsReset.connect(self._on_reset)
        model.logAppended.connect(self._on_log)
        model.failed.connect(self.notice.setText)

    # -- what tests read ---------------------------------------------------------------------
    def ready(self) -> bool:
        """Listed every job the device reported (for --screenshot)."""
        tracker = self.model.tracker
        return tracker.attached and self.row_count() == len(tracker.jobs()) and self._log_loaded.is_set()

    def row_count(self) -> int:
        return self.table_model.rowCount()

    def select_job(self, job_id: str) -> None:
        row = self.table_model.row_of(job_id)
        if row >= 0:
            self.table.selectRow(row)

    # -- slots -------------------------------------------------------------------------------
    def _on_reset(self) -> None:
        selected = self.selected
        self.table_model.reload()
        if selected is None and self.table_model.rowCount():
            selected = self.table_model.job_id(0)  # the newest job, so the page never opens blank
        if selected is not None:
            self.select_job(selected)

    def _on_job_changed(self, job_id: str) -> None:
        self.table_model.job_changed(job_id)
        if job_id == self.selected:
            self._show_details()

    def _on_tick(self) -> None:
        if self.isVisible() and self.table_model.rowCount():
            rows = self.table_model.rowCount()
            self.table_model.dataChanged.emit(self.table_model.index(0, 3), self.table_model.index(rows - 1, 3))

    def _on_selection(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = self.table.selectionModel().selectedRows()
        self.selected = self.table_model.job_id(rows[0].row()) if rows else None
        self.log.clear()
        self._log_shown_end = 0
        self._show_details()
        if self.selected is not None:
            self._show_log()
            self._log_loaded.clear()
            self.model.load_logs(self.selected).add_done_callback(lambda _f: self._log_loaded.set())

    def _show_details(self) -> None:
        info = self.model.tracker.job(self.selected) if self.selected else None
        self.cancel_button.setEnabled(info is not None and not is_final(info))
        if info is None:
            self.details.setText("Select a job to see its details and log.")
            return
        text = job_details(info)
        try:
            record = typed_result(info)
        except ProtocolError as exc:
            text += "\n\nThe result is malformed: %s" % exc.message
            record = None
        if record is not None:
            text += "\n\n" + result_text(record)
        self.details.setText(text)

    def _show_log(self) -> None:
        if self.selected is None:
            return
        buf = self.model.tracker.log(self.selected)
        start = max(self._log_shown_end, buf.base)
        new = buf.lines[start - buf.base:]
        if new:
            self.log.appendPlainText("\n".join(new))
        self._log_shown_end = buf.end

    def _on_log(self, job_id: str, _offset: int, _lines: list[str]) -> None:
        if job_id == self.selected:
            self._show_log()

    def _on_cancel_clicked(self) -> None:
        info = self.model.tracker.job(self.selected) if self.selected else None
        if info is None or is_final(info):
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Cancel job",
                          "Cancel %s on %s? It stops now and writes no output."
                          % (job_title(info), self.model.display_name),
                          QMessageBox.StandardButton.NoButton, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        stop = box.addButton("Cancel job", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Keep running", QMessageBox.ButtonRole.RejectRole)
        job_id = info.id

        def on_done() -> None:
            if box.clickedButton() is stop:
                self.notice.setText("Cancelling %s…" % job_title(info))
                self.model.cancel([job_id])
            self.confirm_box = None

        box.finished.connect(on_done)
        self.confirm_box = box
        box.open()
