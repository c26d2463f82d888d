"""Latency histogram and CDF of chosen benchmark results, overlaid on shared axes.

Histograms show the fraction of samples per bin (not counts), over a span common to all chosen
results, so a 5-second run and a 60-second run overlay fairly.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from console.core.optimize.benchmarks import BenchmarkEntry, cdf, common_span, histogram
from console.ui.theme import SERIES_COLORS, Theme

BINS = 40


def _plot(theme: Theme, title: str, y_label: str) -> pg.PlotWidget:
    plot = pg.PlotWidget()
    plot.setBackground(theme.chart_background)
    plot.setTitle(title, color=theme.text)
    plot.setLabel("bottom", "latency", units="ms", color=theme.muted)
    plot.setLabel("left", y_label, color=theme.muted)
    plot.showGrid(x=True, y=True, alpha=0.25)
    for axis in ("bottom", "left"):
        plot.getPlotItem().getAxis(axis).enableAutoSIPrefix(False)
    plot.addLegend(offset=(-10, 10))
    plot.setMinimumHeight(180)
    return plot


class LatencyPlots(QWidget):
    def __init__(self, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme = theme
        self.histogram_plot = _plot(theme, "Latency histogram", "share of runs")
        self.cdf_plot = _plot(theme, "Latency CDF", "fraction ≤ latency")
        self.cdf_plot.setYRange(0, 1.0)
        self.curves: list[pg.PlotDataItem] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.histogram_plot, 1)
        layout.addWidget(self.cdf_plot, 1)

    def show_entries(self, entries: list[BenchmarkEntry]) -> None:
        for plot in (self.histogram_plot, self.cdf_plot):
            plot.clear()
        self.curves = []
        with_samples = [e for e in entries if e.result.samples_ms]
        span = common_span(with_samples)
        for index, entry in enumerate(with_samples):
            color = SERIES_COLORS[index % len(SERIES_COLORS)]
            edges, share = histogram(entry.result.samples_ms, BINS, span)
            fill = pg.mkColor(color)
            fill.setAlpha(60)
            hist = pg.PlotDataItem(edges, share, stepMode="center", fillLevel=0, brush=fill,
                                   pen=pg.mkPen(color, width=2), name=entry.title)
            xs, ys = cdf(entry.result.samples_ms)
            line = pg.PlotDataItem(xs, ys, pen=pg.mkPen(color, width=2), name=entry.title)
            self.histogram_plot.addItem(hist)
            self.cdf_plot.addItem(line)
            self.curves += [hist, line]
        if span is not None:
            pad = (span[1] - span[0]) * 0.05
            for plot in (self.histogram_plot, self.cdf_plot):
                plot.setXRange(span[0] - pad, span[1] + pad, padding=0)
