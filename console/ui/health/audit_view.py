"""The audit log view: the device's record of operator actions (time, who, action, detail,
result), newest first. Read on the device's worker thread; failed actions read "failed: why"
in red, so the state is in the words and the colour."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from console.core.devices.audit import COLUMNS, DEFAULT_LIMIT, AuditUnavailable, is_ok, list_audit, row
from console.core.devices.client import DeviceError
from console.core.devices.session import State
from console.transport.base import TransportError
from console.ui.charts.chart import plain_label
from console.ui.devices.qt_session import QtSession
from console.ui.health.qt_health import plain_tooltip
from device_runtime.protocol import AuditEntry

FAILED_COLOR = "#c0392b"


class AuditView(QWidget):
    loaded = Signal(list)  # list[AuditEntry], newest first
    failed = Signal(str)

    def __init__(self, model: QtSession, limit: int = DEFAULT_LIMIT, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.limit = limit
        self.entries: list[AuditEntry] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.setAccessibleName("Audit log")
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.summary = plain_label("")
        self.summary.setObjectName("DashboardNotice")
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setMinimumHeight(32)
        self.refresh_button.setToolTip("Read the audit log from the device again")
        self.refresh_button.clicked.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        self.loaded.connect(self._on_loaded)
        self.failed.connect(self._on_failed)
        model.stateChanged.connect(self._on_state)

    def refresh(self) -> None:
        if self.model.state is State.CONNECTED:
            self.summary.setText("Reading the audit log…")
            self.model.run_blocking(self._load_job)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()

    def _on_state(self, state: str, _message: str) -> None:
        if state == State.CONNECTED.value and self.isVisible():
            self.refresh()

    def _load_job(self) -> None:
        try:
            self.loaded.emit(list_audit(self.model.session, self.limit))
        except AuditUnavailable as exc:
            self.failed.emit(str(exc))
        except (DeviceError, TransportError, OSError) as exc:
            self.failed.emit("Could not read the audit log of %s: %s." % (self.model.display_name,
                                                                           str(exc).rstrip(".")))

    def _on_loaded(self, entries: list[AuditEntry]) -> None:
        self.entries = entries
        self.table.setRowCount(len(entries))
        for index, entry in enumerate(entries):
            for column, text in enumerate(row(entry)):
                item = QTableWidgetItem(text)  # item text is never interpreted as markup
                item.setToolTip(plain_tooltip(text))
                if column == 4 and not is_ok(entry):
                    item.setForeground(QColor(FAILED_COLOR))
                if column in (0, 4):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(index, column, item)
        failed = sum(1 for e in entries if not is_ok(e))
        self.summary.setText("%d operator action(s) on %s, newest first%s." % (
            len(entries), self.model.display_name, "; %d failed" % failed if failed else ""))

    def _on_failed(self, message: str) -> None:
        self.summary.setText(message)
