"""One dashboard chart: a card with a title, the latest values and a pyqtgraph plot.

Everything shown comes from the metric table: labels, units, ranges. Each metric has one
persistent curve that every frame updates with ``setData``.
"""

from __future__ import annotations

import html
import math
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPixmap
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from console.core.telemetry import TelemetryStore
from console.ui.clock_axis import ClockAxis
from console.ui.theme import SERIES_COLORS, Theme
from console.ui.units import format_number, format_value, scale_for
from device_runtime.protocol import MetricSpec

CHART_HEIGHT = 230
LEGEND_COLUMNS = 6


def _swatch(color: str) -> QPixmap:
    pixmap = QPixmap(16, 10)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.fillRect(0, 4, 16, 3, QColor(color))
    painter.end()
    return pixmap


def plain_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    """A label that never interprets markup: device strings are shown as typed."""
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
    return label


class ChartCard(QFrame):
    """A chart of the metrics sharing one ``MetricSpec.chart`` title within a group."""

    def __init__(self, title: str, metrics: list[MetricSpec], theme: Theme,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ChartCard")
        self.metrics = list(metrics)
        self.unit = metrics[0].unit
        self._divisor = 1.0
        self._shown_unit: str | None = None
        self._theme = theme
        self._origin: float | None = None  # x = device time - origin (see ClockAxis)

        self.title_label = plain_label(title)
        self.title_label.setObjectName("ChartTitle")
        self.values_label = plain_label()
        self.values_label.setObjectName("ChartValues")
        self.values_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.values_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        self.time_axis = ClockAxis("bottom")
        self.plot = pg.PlotWidget(axisItems={"bottom": self.time_axis})
        self.plot.setBackground(theme.chart_background)
        self.plot.setMinimumHeight(CHART_HEIGHT)
        self._setup_plot()

        header = QHBoxLayout()
        header.setContentsMargins(4, 0, 4, 0)
        header.addWidget(self.title_label)
        header.addWidget(self.values_label, 1)
        self.legend_labels: list[QLabel] = []
        legend = QGridLayout()
        legend.setContentsMargins(4, 0, 4, 0)
        legend.setHorizontalSpacing(14)
        legend.setVerticalSpacing(0)
        for index, spec in enumerate(self.metrics):
            swatch = QLabel()
            swatch.setPixmap(_swatch(SERIES_COLORS[index % len(SERIES_COLORS)]))
            text = plain_label(spec.label)
            text.setObjectName("ChartLegend")
            text.setToolTip(spec.description)
            self.legend_labels.append(text)
            row, col = divmod(index, LEGEND_COLUMNS)
            legend.addWidget(swatch, row, 2 * col)
            legend.addWidget(text, row, 2 * col + 1)
        legend.setColumnStretch(2 * LEGEND_COLUMNS, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 6)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addLayout(legend)
        layout.addWidget(self.plot)

    def _setup_plot(self) -> None:
        item = self.plot.getPlotItem()
        item.setClipToView(True)
        item.setDownsampling(auto=True, mode="peak")
        item.setMouseEnabled(x=False, y=False)
        item.setMenuEnabled(False)
        item.hideButtons()
        font = QFont()
        font.setPointSizeF(8.5)
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setTextPen(self._theme.muted)
            axis.setPen(self._theme.grid)
            axis.setTickFont(font)
            axis.enableAutoSIPrefix(False)
        item.getAxis("left").setWidth(56)
        # A GridItem, not AxisItem.setGrid: the axis grid costs ~5x more per frame to paint.
        item.addItem(pg.GridItem(pen=pg.mkPen(self._theme.grid), textPen=None), ignoreBounds=True)
        self.curves: dict[str, pg.PlotDataItem] = {}
        for index, spec in enumerate(self.metrics):
            pen = pg.mkPen(SERIES_COLORS[index % len(SERIES_COLORS)], width=2)
            curve = pg.PlotDataItem(pen=pen, connect="finite")
            item.addItem(curve)
            self.curves[spec.name] = curve
        self._hover_line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(self._theme.muted, width=1))
        self._hover_text = pg.TextItem(color=self._theme.text, fill=pg.mkBrush(QColor(self._theme.panel)),
                                       border=pg.mkPen(self._theme.border), anchor=(0, 1))
        for hover in (self._hover_line, self._hover_text):
            hover.setVisible(False)
            item.addItem(hover, ignoreBounds=True)
        self.plot.scene().sigMouseMoved.connect(self._on_mouse_moved)

    # -- drawing -----------------------------------------------------------------------------
    def redraw(self, store: TelemetryStore, window_s: float, now: float) -> None:
        """Pull this chart's series from the store and update its curves in place."""
        series = {spec.name: store.series(spec.name, window_s, now) for spec in self.metrics}
        peak = 0.0
        for _t, values in series.values():
            finite = values[np.isfinite(values)]
            if finite.size:
                peak = max(peak, float(np.max(np.abs(finite))))
        if self._origin is None:
            self._origin = float(int(now))
            self.time_axis.origin = self._origin
        divisor, shown = scale_for(self.unit, peak)
        if shown != self._shown_unit:
            self._divisor, self._shown_unit = divisor, shown
            self.plot.getPlotItem().getAxis("left").setLabel(html.escape(shown), color=self._theme.muted)
        for spec in self.metrics:
            times, values = series[spec.name]
            self.curves[spec.name].setData(times - self._origin, values / self._divisor)
        self._set_ranges(peak, window_s, now)
        self.values_label.setText(self._latest_text(store))

    def _set_ranges(self, peak: float, window_s: float, now: float) -> None:
        """Y from the table's min/max where every series declares one, else from the data."""
        item = self.plot.getPlotItem()
        origin = self._origin or 0.0
        item.setXRange(now - origin - window_s, now - origin, padding=0)
        mins = [m.min for m in self.metrics if m.min is not None]
        maxes = [m.max for m in self.metrics if m.max is not None]
        if len(mins) < len(self.metrics):
            item.enableAutoRange(axis="y")
            return
        low = min(mins)
        high = max([*maxes, peak]) if len(maxes) == len(self.metrics) else peak * 1.15
        if high <= low:
            high = low + self._divisor
        item.setYRange(low / self._divisor, high / self._divisor, padding=0.02)

    def _latest_text(self, store: TelemetryStore) -> str:
        parts = []
        for spec in self.metrics:
            parts.append("%s %s" % (spec.label, format_value(store.latest(spec.name), spec.unit)))
        return "  ·  ".join(parts)

    def points(self) -> int:
        """The longest curve's number of points (what the last frame drew)."""
        lengths = [0]
        for curve in self.curves.values():
            x, _y = curve.getOriginalDataset()
            lengths.append(0 if x is None else len(x))
        return max(lengths)

    # -- hover -------------------------------------------------------------------------------
    def _on_mouse_moved(self, pos: QPointF) -> None:
        item = self.plot.getPlotItem()
        if not item.sceneBoundingRect().contains(pos):
            self._hover_line.setVisible(False)
            self._hover_text.setVisible(False)
            return
        x = item.vb.mapSceneToView(pos).x()
        text = self.hover_text(x)
        if text is None:
            return
        self._hover_line.setPos(x)
        self._hover_text.setText(text)
        view = item.vb.viewRange()
        self._hover_text.setPos(x, view[1][1])
        self._hover_text.setAnchor((1, 0) if x > (view[0][0] + view[0][1]) / 2 else (0, 0))
        self._hover_line.setVisible(True)
        self._hover_text.setVisible(True)

    def hover_text(self, x: float) -> str | None:
        """The time nearest ``x`` and every series' value there, as plain text."""
        lines: list[str] = []
        stamp: float | None = None
        for spec in self.metrics:
            times, values = self.curves[spec.name].getOriginalDataset()
            if times is None or not len(times):
                continue
            i = int(np.clip(np.searchsorted(times, x), 0, len(times) - 1))
            if i > 0 and abs(times[i - 1] - x) < abs(times[i] - x):
                i -= 1
            stamp = float(times[i]) + (self._origin or 0.0) if stamp is None else stamp
            value = float(values[i])
            shown = format_number(value) if math.isfinite(value) else "n/a"
            lines.append("%s  %s %s" % (spec.label, shown, self._shown_unit or ""))
        if stamp is None:
            return None
        return "\n".join([time.strftime("%H:%M:%S", time.localtime(stamp)), *lines])
