"""Health history as a grid: one row per check (and the overall verdict on top), one column per
run, oldest left. A failed cell is filled and hatched, a passed one filled, a skipped one only
outlined, so the state never rests on colour alone; hovering a cell names the time, the check,
its result and what it found."""

from __future__ import annotations

import time

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFontMetrics, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from console.core.health.monitor import overall_label, status_label
from console.ui.health.qt_health import HEALTH_COLORS, plain_tooltip
from device_runtime.protocol import HEALTH_FAIL, HEALTH_PASS, HEALTH_SKIP, HealthReport

ROW_H = 18
TOP = 22  # legend
BOTTOM = 20  # time labels
MAX_COLUMNS = 240
MAX_CELL_W = 24.0
STATUS_COLORS = {HEALTH_PASS: HEALTH_COLORS["healthy"], HEALTH_FAIL: HEALTH_COLORS["unhealthy"],
                 HEALTH_SKIP: HEALTH_COLORS["unknown"]}
OVERALL_STATUS = {"healthy": HEALTH_PASS, "degraded": HEALTH_FAIL, "unhealthy": HEALTH_FAIL}


class HealthTimeline(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.reports: list[HealthReport] = []
        self.rows: list[tuple[str, str]] = []  # (check name, title); "" is the overall row
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setAccessibleName("Health history")

    def set_reports(self, reports: list[HealthReport]) -> None:
        """Show the newest :data:`MAX_COLUMNS` runs."""
        self.reports = reports[-MAX_COLUMNS:]
        rows: list[tuple[str, str]] = [("", "Overall")]
        for report in self.reports:
            for check in report.checks:
                if (check.name, check.title) not in rows:
                    rows.append((check.name, check.title))
        self.rows = rows
        self.setMinimumHeight(TOP + BOTTOM + ROW_H * len(rows) + 4)
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(600, TOP + BOTTOM + ROW_H * max(len(self.rows), 6) + 4)

    def _label_width(self) -> int:
        metrics = QFontMetrics(self.font())
        return max([metrics.horizontalAdvance(title) for _, title in self.rows] + [60]) + 12

    def _cell(self, row: int, column: int) -> QRect:
        left = self._label_width()
        width = min(MAX_CELL_W, max(1.0, (self.width() - left - 4) / max(1, len(self.reports))))
        return QRect(int(left + column * width), TOP + row * ROW_H, max(1, int(width) - 1), ROW_H - 3)

    def status_at(self, row: int, column: int) -> tuple[str, str]:
        """(status, message) of one cell."""
        report = self.reports[column]
        name = self.rows[row][0]
        if not name:
            return OVERALL_STATUS.get(report.overall, HEALTH_SKIP), overall_label(report.overall)
        for check in report.checks:
            if check.name == name:
                return check.status, check.message
        return HEALTH_SKIP, "not checked in this run"

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        text = self.palette().windowText().color()
        painter.setPen(text)
        x = 4
        for status in (HEALTH_PASS, HEALTH_FAIL, HEALTH_SKIP):
            self._draw_cell(painter, QRect(x, 5, 12, 12), status)
            painter.setPen(text)
            painter.drawText(x + 16, 16, status_label(status).lower())
            x += 70
        if not self.reports:
            painter.drawText(self.rect().adjusted(8, TOP, -8, -BOTTOM), Qt.AlignmentFlag.AlignCenter,
                             "No health runs yet.")
            return
        for row, (_, title) in enumerate(self.rows):
            painter.setPen(text)
            painter.drawText(QRect(4, TOP + row * ROW_H, self._label_width() - 8, ROW_H - 3),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, title)
            for column in range(len(self.reports)):
                self._draw_cell(painter, self._cell(row, column), self.status_at(row, column)[0])
        painter.setPen(text)
        bottom = TOP + ROW_H * len(self.rows) + 14
        painter.drawText(self._label_width(), bottom, _clock(self.reports[0].t))
        if len(self.reports) > 1:
            last = _clock(self.reports[-1].t)
            right = self._cell(0, len(self.reports) - 1).right()
            painter.drawText(max(right - QFontMetrics(self.font()).horizontalAdvance(last),
                                 self._label_width() + 80), bottom, last)

    def _draw_cell(self, painter: QPainter, rect: QRect, status: str) -> None:
        color = QColor(STATUS_COLORS.get(status, STATUS_COLORS[HEALTH_SKIP]))
        painter.setPen(QPen(color, 1))
        if status == HEALTH_SKIP:
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(rect.adjusted(0, 0, -1, -1))
            return
        painter.setBrush(QBrush(color))
        painter.drawRect(rect.adjusted(0, 0, -1, -1))
        if status == HEALTH_FAIL:
            painter.setBrush(QBrush(QColor("#ffffff"), Qt.BrushStyle.BDiagPattern))
            painter.drawRect(rect.adjusted(0, 0, -1, -1))

    def cell_at(self, point: QPoint) -> tuple[int, int] | None:
        for row in range(len(self.rows)):
            for column in range(len(self.reports)):
                if self._cell(row, column).adjusted(0, 0, 1, 3).contains(point):
                    return row, column
        return None

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        hit = self.cell_at(event.position().toPoint())
        if hit is None:
            QToolTip.hideText()
            return
        row, column = hit
        status, message = self.status_at(row, column)
        tip = "%s\n%s: %s\n%s" % (_clock(self.reports[column].t, True), self.rows[row][1], status_label(status),
                                  message)
        QToolTip.showText(event.globalPosition().toPoint(), plain_tooltip(tip), self)


def _clock(t: float, with_date: bool = False) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S", time.localtime(t))
