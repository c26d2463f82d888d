"""A table of jobs (newest first) with state words in colour and a progress bar per row.

Shared by the Jobs page (every job of the device, newest first) and the Optimize page (the
jobs of one pipeline): ``only`` restricts the rows to those job ids, in that order.
"""

from __future__ import annotations

import os
import time
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionProgressBar, QStyleOptionViewItem

from console.core.jobs.tracker import JobTracker
from console.core.text_units import duration
from device_runtime.protocol import JobInfo

STATE_COLORS = {
    "queued": "#8a8f98",
    "running": "#2f6fd0",
    "succeeded": "#2e9e4f",
    "failed": "#d64545",
    "cancelled": "#b7791f",
    "interrupted": "#b7791f",
}
STATE_MARKS = {"queued": "○", "running": "◐", "succeeded": "●", "failed": "✕", "cancelled": "■", "interrupted": "!"}

COLUMNS = ("Job", "State", "Progress", "Time", "Created", "ID")
PROGRESS_COLUMN = COLUMNS.index("Progress")
ROW_HEIGHT = 34
IndexLike = QModelIndex | QPersistentModelIndex


def job_name(info: JobInfo) -> str:
    """The label, else the kind and the file it works on: ``benchmark · detector.onnx``."""
    if info.label:
        return info.label
    target = info.spec.get("model") or info.spec.get("candidate")
    return "%s · %s" % (info.kind, os.path.basename(str(target))) if target else info.kind


def time_text(info: JobInfo, now: float) -> str:
    if info.state == "running":
        return "%s left" % duration(info.eta_s) if info.eta_s is not None else "running %s" % duration(
            now - (info.started or now))
    if info.state == "queued":
        return "after %s" % info.after if info.after else "waiting"
    if info.started and info.finished:
        return "took %s" % duration(info.finished - info.started)
    return ""


def progress_text(info: JobInfo) -> str:
    stage = info.stage if info.state in ("running", "queued") else info.state
    return "%.0f%% · %s" % (info.progress * 100, stage) if stage else "%.0f%%" % (info.progress * 100)


class JobTableModel(QAbstractTableModel):
    def __init__(self, tracker: JobTracker, only: list[str] | None = None) -> None:
        super().__init__()
        self.tracker = tracker
        self.only = only
        self._ids: list[str] = []
        self.reload()

    def reload(self) -> None:
        self.beginResetModel()
        if self.only is None:
            self._ids = [j.id for j in self.tracker.jobs()]
        else:
            self._ids = [i for i in self.only if self.tracker.job(i) is not None]
        self.endResetModel()

    def set_only(self, only: list[str] | None) -> None:
        self.only = only
        self.reload()

    def job_id(self, row: int) -> str | None:
        return self._ids[row] if 0 <= row < len(self._ids) else None

    def row_of(self, job_id: str) -> int:
        try:
            return self._ids.index(job_id)
        except ValueError:
            return -1

    def job_changed(self, job_id: str) -> None:
        if self.only is not None and job_id not in self.only:
            return
        row = self.row_of(job_id)
        if row >= 0:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
            return
        info = self.tracker.job(job_id)
        if info is None:
            return
        if self.only is not None:
            self.reload()
            return
        # Newest first: a new job goes above every job created before it.
        created = [self.tracker.job(i) for i in self._ids]
        row = next((r for r, j in enumerate(created) if j is not None and (j.created, j.id) < (info.created, info.id)),
                   len(self._ids))
        self.beginInsertRows(QModelIndex(), row, row)
        self._ids.insert(row, job_id)
        self.endInsertRows()

    # -- Qt model ----------------------------------------------------------------------------
    def rowCount(self, parent: IndexLike = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: IndexLike = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: IndexLike, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        info = self.tracker.job(self._ids[index.row()]) if index.isValid() else None
        if info is None:
            return None
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(info, column)
        if role == Qt.ItemDataRole.ForegroundRole and column == "State":
            return QColor(STATE_COLORS.get(info.state, "#8a8f98"))
        if role == Qt.ItemDataRole.ToolTipRole:
            return info.error or progress_text(info)
        if role == Qt.ItemDataRole.UserRole:
            return info
        return None

    @staticmethod
    def _text(info: JobInfo, column: str) -> str:
        if column == "Job":
            return job_name(info)
        if column == "State":
            return "%s %s" % (STATE_MARKS.get(info.state, "?"), info.state)
        if column == "Progress":
            return progress_text(info)
        if column == "Time":
            return time_text(info, time.time())
        if column == "Created":
            return time.strftime("%H:%M:%S", time.localtime(info.created)) if info.created else ""
        return info.id


class ProgressDelegate(QStyledItemDelegate):
    """Draws a job's progress as a bar with its percentage and stage on it."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: IndexLike) -> None:
        info = index.data(Qt.ItemDataRole.UserRole)
        if not isinstance(info, JobInfo):
            super().paint(painter, option, index)
            return
        bar = QStyleOptionProgressBar()
        rect = QRect(option.rect)
        bar.rect = rect.adjusted(4, 5, -4, -5)
        bar.minimum = 0
        bar.maximum = 1000
        bar.progress = round(info.progress * 1000)
        bar.text = progress_text(info)
        bar.textVisible = True
        bar.state = QStyle.StateFlag.State_Enabled
        bar.palette = option.palette
        style = QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)

    def sizeHint(self, option: QStyleOptionViewItem, index: IndexLike) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(max(hint.width(), 220), max(hint.height(), ROW_HEIGHT))
