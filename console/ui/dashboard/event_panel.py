"""The event panel under the charts: one row per alert and per model activation, newest first.

Severity is a word and a colour; an alert that ends updates its own row (end time and
duration) instead of adding another. A deploy, activation or rollback is a row of its own
("Info", the model's versions and who did it). Activating a row asks the Dashboard to show
that moment.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from console.core.devices.session import Outage
from console.core.telemetry.activations import Activation
from console.core.telemetry.alerts import kind_label, severity_label
from console.core.text_units import duration
from console.ui.charts.chart import plain_label
from console.ui.charts.markers import ACTIVATION_COLOR, ROLLED_BACK_COLOR, SEVERITY_COLORS
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


Entry = AlertEvent | Activation | Outage
OUTAGE_COLOR = "#d99a1c"


def _start(entry: Entry) -> float:
    return entry.t if isinstance(entry, Activation) else entry.start


class EventPanel(QWidget):
    alertActivated = Signal(object)  # AlertEvent
    activationActivated = Signal(object)  # Activation

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
        self._entries: dict[str, Entry] = {}  # by alert id or activation key
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
        self._show(alert.id, alert)
        self._count()

    def show_activations(self, shown: list[Activation]) -> None:
        """Add a row for each activation not listed yet (the device's history, re-read after
        every store action, holds the old ones too)."""
        for activation in shown:
            if activation.key not in self._entries:
                self._show(activation.key, activation)
        self._count()

    def show_outage(self, outage: Outage) -> None:
        """A row for the time the device was out of reach (updated when it comes back)."""
        self._show("outage|%r" % outage.start, outage)
        self._count()

    def _show(self, key: str, entry: Entry) -> None:
        known = key in self._entries
        self._entries[key] = entry
        if known:
            row = self._ids.index(key)
        else:
            row = self._insert_position(_start(entry))
            self._ids.insert(row, key)
            self.table.insertRow(row)
            if len(self._ids) > MAX_ROWS:
                dropped = self._ids.pop()
                self._entries.pop(dropped, None)
                self.table.removeRow(self.table.rowCount() - 1)
        if isinstance(entry, AlertEvent):
            self._fill(row, entry)
        elif isinstance(entry, Outage):
            self._fill_outage(row, entry)
        else:
            self._fill_activation(row, entry)

    def _count(self) -> None:
        if not self._entries:
            self.count_label.setText("none so far")
            return
        alerts = [e for e in self._entries.values() if isinstance(e, AlertEvent)]
        ongoing = sum(1 for a in alerts if a.end is None)
        parts = ["%d alert%s, %d ongoing" % (len(alerts), "" if len(alerts) == 1 else "s", ongoing)]
        outages = sum(1 for e in self._entries.values() if isinstance(e, Outage))
        if outages:
            parts.append("%d outage%s" % (outages, "" if outages == 1 else "s"))
        changes = len(self._entries) - len(alerts) - outages
        if changes:
            parts.append("%d model change%s" % (changes, "" if changes == 1 else "s"))
        self.count_label.setText(" · ".join(parts))

    def _insert_position(self, start: float) -> int:
        for row, key in enumerate(self._ids):
            if _start(self._entries[key]) <= start:
                return row
        return len(self._ids)

    def _fill_activation(self, row: int, activation: Activation) -> None:
        message = activation.label + (" by %s" % activation.who if activation.who else "")
        cells = ("Info", activation.verb, activation.model, message, clock_text(activation.t), "", "")
        color = QColor(ROLLED_BACK_COLOR if activation.result == "rolled_back" else ACTIVATION_COLOR)
        self._set_cells(row, cells, color, activation.key, message)

    def _fill_outage(self, row: int, outage: Outage, now: float | None = None) -> None:
        now = time.time() if now is None else now
        end = outage.end if outage.end is not None else now
        message = "Device out of reach: %s" % outage.reason.rstrip(".")
        if outage.end is not None:
            message += "; back after %d attempt%s" % (outage.attempts, "" if outage.attempts == 1 else "s")
        cells = ("Warning", "Disconnected", "link", message, clock_text(outage.start, now),
                 ONGOING if outage.end is None else clock_text(outage.end, now),
                 duration(end - outage.start) + (" so far" if outage.end is None else ""))
        self._set_cells(row, cells, QColor(OUTAGE_COLOR), "outage|%r" % outage.start, message)

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
            duration(end - alert.start) + (" so far" if alert.end is None else ""),
        )
        color = QColor(SEVERITY_COLORS.get(alert.severity, SEVERITY_COLORS["warning"]))
        self._set_cells(row, cells, color, alert.id, alert.message)

    def _set_cells(self, row: int, cells: tuple[str, ...], color: QColor, key: str, message: str) -> None:
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)  # plain text: device strings are never markup
            if column == 0:  # a tint of the kind's colour under the theme's own text: readable in both themes
                fill = QColor(color)
                fill.setAlpha(60)
                item.setBackground(QBrush(fill))
                item.setForeground(QBrush(self.table.palette().color(QPalette.ColorRole.Text)))
            if column == 3:
                item.setToolTip(message)
            item.setData(Qt.ItemDataRole.UserRole, key)
            self.table.setItem(row, column, item)

    def _refresh_ongoing(self) -> None:
        for row, key in enumerate(self._ids):
            entry = self._entries[key]
            if isinstance(entry, AlertEvent) and entry.end is None:
                self._fill(row, entry)
            elif isinstance(entry, Outage) and entry.end is None:
                self._fill_outage(row, entry)

    def _on_activated(self, row: int, _column: int) -> None:
        if 0 <= row < len(self._ids):
            entry = self._entries[self._ids[row]]
            if isinstance(entry, AlertEvent):
                self.alertActivated.emit(entry)
            elif isinstance(entry, Activation):
                self.activationActivated.emit(entry)

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
