"""The Dashboard's inference latency card: p50, p95, p99 and max over the device's sliding window,
for one source and stage at a time, with the model version marked where it changes (a deploy or
rollback shows as a step with its version), the user's budget line (and the device's own health
budget when it has one), values on hover and the probe's controls.

It shares the Dashboard's time range: the Dashboard calls :meth:`LatencyCard.redraw` with it,
and wheel / drag on the plot are reported the same way as on every other chart.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from console.core.telemetry.latency import STATS, LatencyError, format_ms
from console.ui.charts.chart import CHART_HEIGHT, plain_label
from console.ui.charts.clock_axis import ClockAxis
from console.ui.charts.markers import ACTIVATION_COLOR
from console.ui.charts.time_view import TimeViewBox
from console.ui.dashboard.layout import NO_LATENCY_SOURCE
from console.ui.dashboard.probe_control import ProbeControl
from console.ui.dashboard.qt_latency import QtLatency
from console.ui.theme import SERIES_COLORS, Theme

TITLE = "Inference latency"
BUDGET_COLOR = "#d64545"
DEVICE_BUDGET_COLOR = "#d99a1c"
VERSION_COLOR = ACTIVATION_COLOR  # a version step is a model activation, marked alike on every chart
MAX_VERSION_MARKERS = 20


class LatencyCard(QFrame):
    def __init__(self, model: QtLatency, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ChartCard")
        self.model = model
        self.theme = theme
        self.origin: float | None = None
        self._shown: tuple[float, float] | None = None
        self.title_label = plain_label(TITLE)
        self.title_label.setObjectName("ChartTitle")
        self.text_label = plain_label(NO_LATENCY_SOURCE)
        self.text_label.setObjectName("ChartValues")
        self.text_label.setWordWrap(True)
        self.source_box = QComboBox()
        self.source_box.setToolTip("Who reports: the robot's own process (model name) or the probe (probe:<model>)")
        self.stage_box = QComboBox()
        self.stage_box.setToolTip("Which stage's timings: total, preprocess, infer or postprocess")
        self.budget_box = QDoubleSpinBox()
        self.budget_box.setRange(0.0, 100000.0)
        self.budget_box.setDecimals(2)
        self.budget_box.setSuffix(" ms")
        self.budget_box.setSpecialValueText("no budget")
        self.budget_box.setToolTip("Your latency budget for this device, drawn as a red line (0: none)")
        self.budget_box.setValue(model.budget_ms or 0.0)
        header = QHBoxLayout()
        header.setContentsMargins(4, 0, 0, 0)
        header.addWidget(self.title_label)
        header.addStretch(1)
        for text, widget in (("Source", self.source_box), ("Stage", self.stage_box), ("Budget", self.budget_box)):
            header.addWidget(QLabel(text))
            header.addWidget(widget)
        self.time_axis = ClockAxis("bottom")
        self.view_box = TimeViewBox()
        self.plot = pg.PlotWidget(viewBox=self.view_box, axisItems={"bottom": self.time_axis})
        self.plot.setBackground(theme.chart_background)
        # A fixed height: the page scrolls through sections instead of stretching two charts to fill it.
        self.plot.setFixedHeight(CHART_HEIGHT)
        item = self.plot.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.getAxis("left").setLabel("ms", color=theme.muted)
        item.getAxis("left").enableAutoSIPrefix(False)  # sub-millisecond values stay in ms, not "ms (x0.001)"
        item.getAxis("left").setWidth(56)
        item.addItem(pg.GridItem(pen=pg.mkPen(theme.grid), textPen=None), ignoreBounds=True)
        self.curves: dict[str, pg.PlotDataItem] = {}
        for index, (name, _attr) in enumerate(STATS):
            curve = pg.PlotDataItem(pen=pg.mkPen(SERIES_COLORS[index % len(SERIES_COLORS)], width=2), name=name)
            item.addItem(curve)
            self.curves[name] = curve
        item.addLegend(offset=(8, 4))
        for name, curve in self.curves.items():
            item.legend.addItem(curve, name)
        self.budget_line = self._hline(BUDGET_COLOR, Qt.PenStyle.SolidLine)
        self.device_budget_line = self._hline(DEVICE_BUDGET_COLOR, Qt.PenStyle.DashLine)
        self.version_lines: list[pg.InfiniteLine] = []
        self._hover = pg.TextItem(color=theme.text, fill=pg.mkBrush(QColor(theme.panel)),
                                  border=pg.mkPen(theme.border), anchor=(0, 0))
        self._hover.setVisible(False)
        item.addItem(self._hover, ignoreBounds=True)
        self.plot.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.probe_control = ProbeControl(model)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 6)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self.text_label)
        layout.addWidget(self.plot)
        layout.addWidget(self.probe_control)
        self.source_box.currentIndexChanged.connect(self._on_source)
        self.stage_box.currentIndexChanged.connect(self._redraw_shown)
        self.budget_box.editingFinished.connect(self._on_budget_edited)
        model.windowsArrived.connect(self._refresh_choices)
        model.budgetChanged.connect(self._redraw_shown)
        model.noticeChanged.connect(self._on_notice)
        self._refresh_choices()

    def _hline(self, color: str, style: Qt.PenStyle) -> pg.InfiniteLine:
        line = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen(color, width=2, style=style),
                               label="", labelOpts={"position": 0.98, "color": color, "anchors": [(1, 1), (1, 1)]})
        line.setVisible(False)
        self.plot.getPlotItem().addItem(line, ignoreBounds=True)
        return line

    # -- choices ------------------------------------------------------------------------------
    def selection(self) -> tuple[str, str] | None:
        source, stage = self.source_box.currentText(), self.stage_box.currentText()
        return (source, stage) if source and stage else None

    def _refresh_choices(self) -> None:
        sources = self.model.store.sources()
        if [self.source_box.itemText(i) for i in range(self.source_box.count())] != sources:
            current = self.source_box.currentText()
            self.source_box.blockSignals(True)
            self.source_box.clear()
            self.source_box.addItems(sources)
            if current in sources:
                self.source_box.setCurrentText(current)
            self.source_box.blockSignals(False)
            self._on_source()

    def _on_source(self, *_args: object) -> None:
        stages = self.model.store.stages(self.source_box.currentText())
        current = self.stage_box.currentText()
        self.stage_box.blockSignals(True)
        self.stage_box.clear()
        self.stage_box.addItems(stages)
        self.stage_box.setCurrentText(current if current in stages else (stages[0] if stages else ""))
        self.stage_box.blockSignals(False)
        self._redraw_shown()

    def _on_budget_edited(self) -> None:
        value = self.budget_box.value()
        try:
            self.model.set_budget(value if value > 0 else None)
        except LatencyError as exc:
            self.text_label.setText(str(exc))

    def _on_notice(self, text: str) -> None:
        if text:
            self.text_label.setText(text)

    # -- drawing -------------------------------------------------------------------------------
    def _redraw_shown(self, *_args: object) -> None:
        if self._shown is not None:
            self.redraw(*self._shown)

    def redraw(self, start: float, end: float) -> None:
        """Show [start, end] in device time."""
        self._shown = (start, end)
        if self.origin is None:
            self.origin = float(int(end))
            self.time_axis.origin = self.origin
        item = self.plot.getPlotItem()
        item.setXRange(start - self.origin, end - self.origin, padding=0)
        chosen = self.selection()
        series = self.model.store.series(*chosen) if chosen else None
        peak = 0.0
        if series is None:
            for curve in self.curves.values():
                curve.setData([], [])
            self.text_label.setText(self.model.notice or NO_LATENCY_SOURCE)
        else:
            lo, hi = series.between(start - 2.0, end)
            x = np.asarray(series.times[lo:hi]) - self.origin
            for name, curve in self.curves.items():
                values = np.asarray(series.stats[name][lo:hi])
                curve.setData(x, values)
                if values.size:
                    peak = max(peak, float(values.max()))
            self.text_label.setText(self.latest_text())
        budgets = [(self.budget_line, self.model.budget_ms, "budget"),
                   (self.device_budget_line, self.model.device_budget_ms, "device health budget")]
        for line, value, what in budgets:
            line.setVisible(value is not None)
            if value is not None:
                line.setValue(value)
                line.label.setFormat("%s %s" % (what, format_ms(value)))
                peak = max(peak, value)
        item.setYRange(0.0, peak * 1.15 if peak > 0 else 1.0, padding=0)
        self._mark_versions(start, end)

    def _mark_versions(self, start: float, end: float) -> None:
        item = self.plot.getPlotItem()
        for line in self.version_lines:
            item.removeItem(line)
        self.version_lines = []
        chosen = self.selection()
        if chosen is None or self.origin is None:
            return
        for t, version in self.model.store.version_steps(*chosen, start, end)[-MAX_VERSION_MARKERS:]:
            line = pg.InfiniteLine(pos=t - self.origin, angle=90, movable=False,
                                   pen=pg.mkPen(VERSION_COLOR, width=2, style=Qt.PenStyle.DashLine), label=version,
                                   labelOpts={"position": 0.92, "color": VERSION_COLOR})
            item.addItem(line, ignoreBounds=True)
            self.version_lines.append(line)

    def version_labels(self) -> list[str]:
        return [line.label.toPlainText() for line in self.version_lines]

    def latest_text(self) -> str:
        chosen = self.selection()
        window = self.model.store.latest(*chosen) if chosen else None
        if window is None:
            return NO_LATENCY_SOURCE
        parts = ["%s %s" % (name, format_ms(getattr(window, attr))) for name, attr in STATS]
        text = "  ·  ".join(parts) + "  over %g s, %.1f/s" % (window.window_s, window.rate_hz)
        return text + ("  ·  version %s" % window.version if window.version else "")

    # -- hover --------------------------------------------------------------------------------
    def hover_text(self, x: float) -> str | None:
        chosen = self.selection()
        if chosen is None or self.origin is None:
            return None
        window = self.model.store.window_at(*chosen, x + self.origin)
        if window is None:
            return None
        lines = [time.strftime("%H:%M:%S", time.localtime(window.t))]
        lines += ["%s  %s" % (name, format_ms(getattr(window, attr))) for name, attr in STATS]
        if window.version:
            lines.append("version %s" % window.version)
        return "\n".join(lines)

    def _on_mouse_moved(self, pos: QPointF) -> None:
        item = self.plot.getPlotItem()
        text = self.hover_text(item.vb.mapSceneToView(pos).x()) if item.sceneBoundingRect().contains(pos) else None
        self._hover.setVisible(text is not None)
        if text is not None:
            point = item.vb.mapSceneToView(pos)
            self._hover.setText(text)
            self._hover.setPos(point.x(), item.vb.viewRange()[1][1])
