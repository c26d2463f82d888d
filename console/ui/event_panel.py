"""The event panel under the charts: one row per alert, newest first.

Severity is a word and a colour; an alert that ends updates its own row (end time and
duration) instead of adding another. Activating a row asks the Dashboard to show that moment.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from console.core.alerts import format_duration, kind_label, severity_label
from console.ui.chart import plain_label
from console.ui.chart_markers import SEVERITY_COLORS
from device_runtime.protocol import AlertEvent

COLUMNS = ("Severity", "Kind", "Source", "Message", "Start", "End", "Duration")
ONGOING = "ongoing"
MAX_ROWS = 500
REFRESH_MS = 1000


def clock_text(t: float, now: float | None = None) -> str:
    """``14:03:07`` for today, ``2024-05-01 14:03:07`` for another day."""
    now = time.time() if now is None else now
    same_day = time.localtime(t)[:3] == time.localtime(now)[:3]
    return time.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M:%S", time.localtime(t))


class EventPanel(QWidget):
    alertActivated = Signal(object)  # AlertEvent

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("EventPanel")
        self.title = plain_label("Events")
        self.title.setObjectName("GroupHeader")
        self.count_label = plain_label("none so far")
        self.count_label.setObjectName("DashboardNotice")
        self.notice = plain_label("")
        self.notice.setObjectName("DashboardNotice")
        self.notice.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("Message"), QHeaderView.ResizeMode.Stretch)
        top = QHBoxLayout()
        top.addWidget(self.title)
        top.addWidget(self.count_label)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 0, 14, 6)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.notice)
        layout.addWidget(self.table, 1)
        self.notice.setVisible(False)
        self._ids: list[str] = []  # row order, newest first
        self._alerts: dict[str, AlertEvent] = {}
        self.table.cellActivated.connect(self._on_activated)
        self.table.cellClicked.connect(self._on_activated)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._refresh_ongoing)
        self._timer.start()

    def set_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def show_alert(self, alert: AlertEvent) -> None:
        """Add a row for a new alert or update the row of a known one."""
        known = alert.id in self._alerts
        self._alerts[alert.id] = alert
        if known:
            row = self._ids.index(alert.id)
        else:
            row = self._insert_position(alert)
            self._ids.insert(row, alert.id)
            self.table.insertRow(row)
            if len(self._ids) > MAX_ROWS:
                dropped = self._ids.pop()
                self._alerts.pop(dropped, None)
                self.table.removeRow(self.table.rowCount() - 1)
        self._fill(row, alert)
        ongoing = sum(1 for a in self._alerts.values() if a.end is None)
        self.count_label.setText("%d alert%s, %d ongoing" % (len(self._alerts), "" if len(self._alerts) == 1
                                                              else "s", ongoing))

    def _insert_position(self, alert: AlertEvent) -> int:
        for row, alert_id in enumerate(self._ids):
            if self._alerts[alert_id].start <= alert.start:
                return row
        return len(self._ids)

    def _fill(self, row: int, alert: AlertEvent, now: float | None = None) -> None:
        now = time.time() if now is None else now
        end = alert.end if alert.end is not None else now
        cells = (
            severity_label(alert.severity),
            kind_label(alert.kind),
            alert.source,
            alert.message,
            clock_text(alert.start, now),
            ONGOING if alert.end is None else clock_text(alert.end, now),
            format_duration(end - alert.start) + (" so far" if alert.end is None else ""),
        )
        color = QColor(SEVERITY_COLORS.get(alert.severity, SEVERITY_COLORS["warning"]))
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)  # plain text: device strings are never markup
            if column == 0:
                fill = QColor(color)
                fill.setAlpha(60)
                item.setBackground(QBrush(fill))
                item.setForeground(QBrush(color.darker(130)))
            if column == 3:
                item.setToolTip(alert.message)
            item.setData(Qt.ItemDataRole.UserRole, alert.id)
            self.table.setItem(row, column, item)

    def _refresh_ongoing(self) -> None:
        for row, alert_id in enumerate(self._ids):
            alert = self._alerts[alert_id]
            if alert.end is None:
                self._fill(row, alert)

    def _on_activated(self, row: int, _column: int) -> None:
        if 0 <= row < len(self._ids):
            self.alertActivated.emit(self._alerts[self._ids[row]])

    def rows(self) -> list[list[str]]:
        """The table as text, top row first (what a person reads)."""
        out = []
        for row in range(self.table.rowCount()):
            cells = []
            for column in range(len(COLUMNS)):
                item = self.table.item(row, column)
                cells.append(item.text() if item is not None else "")
            out.append(cells)
        return out

    def stop(self) -> None:
        self._timer.stop()
