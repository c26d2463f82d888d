"""One dashboard chart: a card with a title, the latest values and a pyqtgraph plot.

Everything shown comes from the metric table: labels, units, ranges. Each metric has one
persistent curve that every frame updates with ``setData``. A frame reads only the visible
time range from the store (clip to view) and reduces it to min/max pairs per few pixel columns
(peak downsampling), so an hour or a day at 10 Hz costs about what a minute does; the bins of
earlier frames are kept (``PeakCache``), so a live frame reduces only the newest samples.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from console.core.telemetry.activations import Activation
from console.core.telemetry.alerts import kind_label, severity_label
from console.core.telemetry.export import ExportError
from console.core.telemetry.metric_values import axis_ticks, whole_text
from console.core.telemetry.metrics import TelemetryStore
from console.core.telemetry.peak_cache import PeakCache
from console.ui.charts.clock_axis import ClockAxis
from console.ui.charts.markers import ActivationMarkers, AlertMarkers
from console.ui.charts.series_curve import Bounds, SeriesCurve
from console.ui.charts.time_view import TimeViewBox
from console.ui.dashboard.layout import NOT_AVAILABLE
from console.ui.theme import SERIES_COLORS, Theme
from console.ui.units import format_metric, format_number, scale_for
from device_runtime.protocol import AlertEvent, MetricSpec

CHART_HEIGHT = 230
WHOLE_TICKS_UP_TO = 8
LEGEND_COLUMNS = 3  # entries carry their values ("VDD_IN 9210 mW"): three fit a card at 1280 px
MIN_BINS = 200
PIXELS_PER_BIN = 3  # one min/max pair per 3 px: finer is invisible and costs paint time
# Qt's raster engine draws 1 px lines about 5x faster than 2 px ones; dense curves use them.
THIN_PEN_ABOVE = 200
HOVER_REACH = 0.01  # of the time shown: how near the pointer an activation line counts as hovered


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


EXPORT_WIDTH = 1920  # px: a chart saved for a report or a ticket, not a screen grab


def save_plot_png(plot: pg.PlotItem, path: Path, lines: Sequence[str], theme: Theme,
                  width: int = EXPORT_WIDTH) -> tuple[int, int]:
    """The plot rendered afresh at ``width`` px under a header of ``lines`` (title, then what and
    when), which also go into the PNG's Title and Description. Raises :class:`ExportError`."""
    from pyqtgraph.exporters import ImageExporter

    if not path.parent.is_dir():
        raise ExportError("Cannot write %s: the folder %s does not exist. Choose an existing folder."
                          % (path, path.parent))
    exporter = ImageExporter(plot)
    exporter.parameters()["width"] = width
    exporter.parameters()["background"] = QColor(theme.chart_background)
    drawn = exporter.export(toBytes=True)
    assert isinstance(drawn, QImage)
    line_height = max(24, width // 60)
    header = line_height * len(lines) + line_height // 2
    image = QImage(drawn.width(), drawn.height() + header, QImage.Format.Format_ARGB32)
    image.fill(QColor(theme.chart_background))
    painter = QPainter(image)
    try:
        for number, text in enumerate(lines):
            font = QFont()
            font.setPixelSize(int(line_height * (0.75 if number == 0 else 0.55)))
            font.setBold(number == 0)
            painter.setFont(font)
            painter.setPen(QColor(theme.text if number == 0 else theme.muted))
            painter.drawText(line_height // 2, line_height * (number + 1), text)
        painter.drawImage(0, header, drawn)
    finally:
        painter.end()
    image.setText("Title", lines[0] if lines else "")
    image.setText("Description", " · ".join(lines[1:]))
    if not image.save(str(path), "PNG"):  # type: ignore[call-overload]
        raise ExportError("Cannot write %s. Choose a folder you can write to." % path)
    return image.width(), image.height()


def _extremes(values: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float32],
                                                       npt.NDArray[np.float32]]:
    """Per column: whether every value is finite, and the finite minimum and maximum (NaN for
    a column without any). Curves skip their own scans with these."""
    finite = np.isfinite(values)
    gap_free: npt.NDArray[np.bool_] = np.logical_and.reduce(finite, axis=0)
    if not len(values):
        empty = np.full(values.shape[1], np.nan, dtype=np.float32)
        return gap_free, empty, empty
    clean = values if gap_free.all() else np.where(finite, values, np.float32(np.nan))
    return gap_free, np.fmin.reduce(clean, axis=0), np.fmax.reduce(clean, axis=0)


class CardMenu(QToolButton):
    """The ``⋯`` button of a card: export this chart as PNG, the session as CSV."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setText("⋯")
        self.setObjectName("CardMenu")
        self.setToolTip("Export this chart or the session's telemetry")
        self.setAutoRaise(True)
        self.setMinimumSize(32, 28)
        self.setStyleSheet("QToolButton::menu-indicator { image: none; width: 0px; }")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu_ = QMenu(self)
        self.png_action = self.menu_.addAction("Save chart as PNG…")
        self.csv_action = self.menu_.addAction("Export telemetry as CSV…")
        self.setMenu(self.menu_)


class ChartCard(QFrame):
    """A chart of the metrics sharing one ``MetricSpec.chart`` title within a group.

    ``decimate=False`` draws every stored point without clipping or downsampling; only the
    redraw benchmark uses it, as its baseline.
    """

    pngRequested = Signal()
    csvRequested = Signal()

    def __init__(self, title: str, metrics: Sequence[MetricSpec], theme: Theme, decimate: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ChartCard")
        self.title = title
        self.metrics = list(metrics)
        self.names = [m.name for m in self.metrics]
        self.unit = metrics[0].unit
        self.decimate = decimate
        self._divisor = 1.0
        self._shown_unit: str | None = None
        self._theme = theme
        self._origin: float | None = None  # x = device time - origin (see ClockAxis)
        self._store: TelemetryStore | None = None
        self._alerts: list[AlertEvent] = []
        self._activations: list[Activation] = []
        self.peak_points = 0  # how many drawn points were 10 s bucket peaks (older than the ring)
        self._peaks = PeakCache()  # the min/max bins of earlier frames that are still valid
        self._y_range: tuple[float, float] | None = None
        self._whole_few: bool | None = None

        self.title_label = plain_label(title)
        self.title_label.setObjectName("ChartTitle")
        self.values_label = plain_label()
        self.values_label.setObjectName("ChartValues")
        self.values_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.values_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.menu_button = CardMenu(self)
        self.menu_button.png_action.triggered.connect(self.pngRequested)
        self.menu_button.csv_action.triggered.connect(self.csvRequested)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(
            lambda pos: self.menu_button.menu_.popup(self.mapToGlobal(pos)))

        self.time_axis = ClockAxis("bottom")
        self.view_box = TimeViewBox()
        self.plot = pg.PlotWidget(viewBox=self.view_box, axisItems={"bottom": self.time_axis})
        self.plot.setBackground(theme.chart_background)
        # A fixed height: the page scrolls through sections instead of stretching two charts to fill it.
        self.plot.setFixedHeight(CHART_HEIGHT)
        self._setup_plot()
        self.markers = AlertMarkers(self.plot.getPlotItem(), theme)
        self.activation_markers = ActivationMarkers(self.plot.getPlotItem())

        header = QHBoxLayout()
        header.setContentsMargins(4, 0, 0, 0)
        header.addWidget(self.title_label)
        header.addWidget(self.values_label, 1)
        header.addWidget(self.menu_button)
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
            text.setWordWrap(True)  # a long name and its value wrap inside the card rather than widen it
            self.legend_labels.append(text)
            row, col = divmod(index, LEGEND_COLUMNS)
            legend.addWidget(swatch, row, 2 * col)
            legend.addWidget(text, row, 2 * col + 1)
        for col in range(min(LEGEND_COLUMNS, len(self.metrics))):
            legend.setColumnStretch(2 * col + 1, 1)
        if len(self.metrics) < LEGEND_COLUMNS:
            legend.setColumnStretch(2 * LEGEND_COLUMNS, LEGEND_COLUMNS - len(self.metrics))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 6)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addLayout(legend)
        layout.addWidget(self.plot)
        # One series: its value in the header. Several: each value beside its name in the legend, so a
        # narrow card never cuts the first one (a Jetson's total, VDD_IN); the summary line is then the
        # card's accessible description. Only once the label has its parent: shown before, it would be
        # a window of its own on the desktop.
        self.values_label.setVisible(len(self.metrics) == 1)

    def _setup_plot(self) -> None:
        item = self.plot.getPlotItem()
        # Clipping to the view and peak downsampling happen before setData (see redraw), on
        # the store's arrays; pyqtgraph's own versions would only repeat that work per curve.
        item.setClipToView(False)
        item.setDownsampling(False)
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
        ticks = axis_ticks(self.metrics[0]) if all(m.labels == self.metrics[0].labels for m in self.metrics) else []
        if ticks:  # a mode: its names on the axis, not its codes, on an axis wide enough for them
            item.getAxis("left").setTicks([ticks])
            widest = max(QFontMetrics(font).horizontalAdvance(name) for _, name in ticks)
            item.getAxis("left").setWidth(max(56, widest + 14))
        # A GridItem, not AxisItem.setGrid: the axis grid costs ~5x more per frame to paint.
        # Two levels of lines (about 10 per axis), not pyqtgraph's default third, nearly
        # invisible level of ~100 that costs as much to regenerate every frame as the curves.
        grid = pg.GridItem(pen=pg.mkPen(self._theme.grid), textPen=None)
        grid.setTickSpacing(x=[None, None], y=[None, None])
        item.addItem(grid, ignoreBounds=True)
        self.curves: dict[str, SeriesCurve] = {}
        self.pen_width = 2
        for index, spec in enumerate(self.metrics):
            curve = SeriesCurve(pg.mkPen(SERIES_COLORS[index % len(SERIES_COLORS)], width=self.pen_width))
            item.addItem(curve)
            self.curves[spec.name] = curve
        self._absent = pg.TextItem(NOT_AVAILABLE, color=self._theme.muted, anchor=(0.5, 0.5))
        self._absent.setVisible(False)
        item.addItem(self._absent, ignoreBounds=True)
        self._hover_line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(self._theme.muted, width=1))
        self._hover_text = pg.TextItem(color=self._theme.text, fill=pg.mkBrush(QColor(self._theme.panel)),
                                       border=pg.mkPen(self._theme.border), anchor=(0, 1))
        for hover in (self._hover_line, self._hover_text):
            hover.setVisible(False)
            item.addItem(hover, ignoreBounds=True)
        self.plot.scene().sigMouseMoved.connect(self._on_mouse_moved)

    # -- drawing -----------------------------------------------------------------------------
    @property
    def origin(self) -> float:
        return self._origin or 0.0

    def redraw(self, store: TelemetryStore, start: float, end: float) -> None:
        """Show [start, end] (device time): clip to it, reduce to peaks, update curves in place."""
        self._store = store
        if self._origin is None:
            self._origin = float(int(end))
            self.time_axis.origin = self._origin
        if self.decimate:
            bins = max(MIN_BINS, int(self.plot.width()) // PIXELS_PER_BIN)
            times, values = self._peaks.read(store, self.names, start, end, bins)
            full_from = store.full_rate_from
            self.peak_points = 0 if full_from is None else int(np.searchsorted(times, full_from))
        else:
            window = store.window(self.names, start, end)
            times, values = window.times, window.values
            self.peak_points = window.peak_rows
        gap_free, lows, highs = _extremes(values)
        peak = float(np.fmax.reduce(np.fmax(np.abs(lows), np.abs(highs)))) if len(lows) else 0.0
        peak = 0.0 if math.isnan(peak) else peak
        divisor, shown = scale_for(self.unit, peak)
        if shown != self._shown_unit:
            self._divisor, self._shown_unit = divisor, shown
            self.plot.getPlotItem().getAxis("left").setLabel(html.escape(shown), color=self._theme.muted)
        x = times - self.origin
        x_bounds: Bounds = (float(x[0]), float(x[-1])) if len(x) else (None, None)
        self._set_pen_width(1 if len(times) > THIN_PEN_ABOVE else 2)
        for column, name in enumerate(self.names):
            low, high = lows[column] / self._divisor, highs[column] / self._divisor
            y_bounds: Bounds = (None, None) if math.isnan(low) else (float(low), float(high))
            self.curves[name].show_series(x, values[:, column] / self._divisor, bool(gap_free[column]),
                                          x_bounds, y_bounds)
        self._set_ranges(peak, start, end)
        self._whole_ticks(peak)
        self._show_latest(store)
        self._show_absent(store, start, end)
        self.markers.update(self._alerts, self.origin, end)
        self.activation_markers.update(self._activations, self.origin)
        # pyqtgraph applies a new range lazily, in the paint; its transform change then asks
        # for a second paint of the whole chart. Applying it now halves the painting per frame.
        self.plot.getPlotItem().vb.prepareForPaint()

    def _set_pen_width(self, width: int) -> None:
        if width == self.pen_width:
            return
        self.pen_width = width
        for index, curve in enumerate(self.curves.values()):
            curve.setPen(pg.mkPen(SERIES_COLORS[index % len(SERIES_COLORS)], width=width))

    def set_alerts(self, alerts: list[AlertEvent]) -> None:
        """The alerts to mark; drawn on the next redraw."""
        self._alerts = alerts

    def set_activations(self, shown: list[Activation]) -> None:
        """The model activations in view, oldest first; drawn on the next redraw."""
        self._activations = shown

    def _show_absent(self, store: TelemetryStore, start: float, end: float) -> None:
        absent = store.received > 0 and not any(store.seen(n) for n in self.names)
        self._absent.setVisible(absent)
        if absent:
            low, high = self.plot.getPlotItem().vb.viewRange()[1]
            self._absent.setPos((start + end) / 2 - self.origin, (low + high) / 2)

    def _whole_ticks(self, peak: float) -> None:
        """Counts of a few events tick at whole numbers (0, 1, 2), never at 0.5."""
        if not all(m.integer and not m.labels for m in self.metrics):
            return
        few = peak <= WHOLE_TICKS_UP_TO
        if few != self._whole_few:
            self._whole_few = few
            axis = self.plot.getPlotItem().getAxis("left")
            if few:
                axis.setTickSpacing(1.0, 1.0)
            else:
                axis.setTickSpacing()

    def _set_ranges(self, peak: float, start: float, end: float) -> None:
        """Y from the table's min/max where every series declares one, else from the data."""
        item = self.plot.getPlotItem()
        vb = item.vb
        x_range = self._snapped(start - self.origin, end - self.origin, vb.width())
        if vb.state["targetRange"][0] != x_range:
            item.setXRange(*x_range, padding=0)
        mins = [m.min for m in self.metrics if m.min is not None]
        maxes = [m.max for m in self.metrics if m.max is not None]
        if len(mins) < len(self.metrics):
            if not vb.state["autoRange"][1]:
                item.enableAutoRange(axis="y")
            return
        low = min(mins)
        high = max([*maxes, peak]) if len(maxes) == len(self.metrics) else peak * 1.15
        if high <= low:
            high = low + self._divisor
        y_range = (low / self._divisor, high / self._divisor)
        if y_range != self._y_range or vb.state["autoRange"][1]:
            self._y_range = y_range
            item.setYRange(*y_range, padding=0.02)

    @staticmethod
    def _snapped(x0: float, x1: float, pixels: float) -> list[float]:
        """[x0, x1] moved right by less than a pixel so that its right edge is a whole number of
        pixels: a live window then moves in pixel steps, and between steps the axis, the grid
        and the transform of every item stay as they were instead of being redone for a shift
        nobody can see. The span is rounded as the peak bins round it (see ``bin_width``)."""
        span = round(x1 - x0, 4)
        if pixels < 1 or span <= 0:
            return [x0, x1]
        pixel = span / pixels
        right = math.ceil(x1 / pixel) * pixel
        return [right - span, right]

    def _show_latest(self, store: TelemetryStore) -> None:
        parts = []
        for spec, legend in zip(self.metrics, self.legend_labels, strict=True):
            shown = format_metric(store.latest(spec.name), spec) if store.seen(spec.name) else NOT_AVAILABLE
            parts.append("%s %s" % (spec.label, shown))
            if len(self.metrics) > 1:
                legend.setText("%s  %s" % (spec.label, shown.replace(" ", "\u00a0")))  # a value never splits
        summary = "  ·  ".join(parts)
        self.values_label.setText(summary)
        if len(self.metrics) > 1 and self.accessibleDescription() != summary:
            self.setAccessibleDescription(summary)

    def points(self) -> int:
        """The longest curve's number of points (what the last frame drew)."""
        lengths = [0]
        for curve in self.curves.values():
            x, _y = curve.getOriginalDataset()
            lengths.append(0 if x is None else len(x))
        return max(lengths)

    def save_png(self, path: Path, about: str = "") -> tuple[int, int]:
        """The chart at full resolution as a PNG: its title, ``about`` (device and time range), the
        series with their units, and the plot."""
        self._hide_hover()
        series = " · ".join("%s (%s)" % (m.label, m.unit) if m.unit else m.label for m in self.metrics)
        return save_plot_png(self.plot.getPlotItem(), path, [self.title, *(t for t in (about, series) if t)],
                             self._theme)

    # -- hover -------------------------------------------------------------------------------
    def _hide_hover(self) -> None:
        self._hover_line.setVisible(False)
        self._hover_text.setVisible(False)

    def _on_mouse_moved(self, pos: QPointF) -> None:
        item = self.plot.getPlotItem()
        if not item.sceneBoundingRect().contains(pos):
            self._hide_hover()
            return
        x = item.vb.mapSceneToView(pos).x()
        text = self.hover_text(x)
        if text is None:
            self._hide_hover()
            return
        self._hover_line.setPos(x)
        self._hover_text.setText(text)
        view = item.vb.viewRange()
        self._hover_text.setPos(x, view[1][1])
        self._hover_text.setAnchor((1, 0) if x > (view[0][0] + view[0][1]) / 2 else (0, 0))
        self._hover_line.setVisible(True)
        self._hover_text.setVisible(True)

    def hover_text(self, x: float) -> str | None:
        """The time nearest ``x``, every series' value there with its unit, and the alerts then,
        as plain text. Older than the full-rate ring, the 10 s peaks drawn there are shown."""
        t = x + self.origin
        store = self._store
        near = store.nearest(t) if store is not None else None
        lines: list[str] = []
        if near is not None:
            stamp, row = near
            lines.append(time.strftime("%H:%M:%S", time.localtime(stamp)) + ".%d" % int(stamp % 1 * 10))
            for spec in self.metrics:
                seen = store is not None and store.seen(spec.name)
                lines.append("%s  %s" % (spec.label, format_metric(row[spec.name], spec) if seen
                                         else NOT_AVAILABLE))
        else:
            peak = self._peak_text(x)
            if peak is None:
                return None
            lines.extend(peak)
        for alert in self._alerts:
            if alert.start <= t and (alert.end is None or t <= alert.end):
                lines.append("%s: %s (%s)" % (severity_label(alert.severity), kind_label(alert.kind), alert.source))
        (x0, x1), _ = self.plot.getPlotItem().vb.viewRange()
        reach = (x1 - x0) * HOVER_REACH  # a line is a moment: within a few pixels of the pointer
        for activation in self._activations:
            if abs(activation.t - t) <= reach:
                lines.append(activation.label + (" by %s" % activation.who if activation.who else ""))
        return "\n".join(lines)

    def _peak_text(self, x: float) -> list[str] | None:
        lines: list[str] = []
        for spec in self.metrics:
            times, values = self.curves[spec.name].getOriginalDataset()
            if times is None or not len(times):
                continue
            i = int(np.clip(np.searchsorted(times, x), 0, len(times) - 1))
            if not lines:
                stamp = float(times[i]) + self.origin
                lines.append(time.strftime("%H:%M:%S", time.localtime(stamp)) + "  (10 s peaks)")
            pair = values[max(0, i - 1): i + 1]
            finite = pair[np.isfinite(pair)]
            shown = " to ".join(whole_text(spec, float(v)) or format_number(float(v))
                                for v in sorted(set(finite.tolist()))) or "n/a"
            unit = "" if spec.labels else self._shown_unit or ""
            lines.append(("%s  %s %s" % (spec.label, shown, unit)).rstrip())
        return lines or None
