"""What is marked on a chart. Alerts: a shaded band from start to end (to now while ongoing)
with a label naming the kind, coloured and worded by severity, so colour is never alone.
Model activations: a dashed line with a label naming the model and its versions."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from console.core.telemetry.activations import Activation
from console.core.telemetry.alerts import kind_label
from console.ui.theme import Theme
from device_runtime.protocol import SEVERITY_CRITICAL, AlertEvent

SEVERITY_COLORS = {"warning": "#d99a1c", SEVERITY_CRITICAL: "#d64545"}
MAX_MARKERS = 40  # per chart: the newest ones in view
ACTIVATION_COLOR = "#6a5acd"  # a model version took over (also the latency chart's version steps)
ROLLED_BACK_COLOR = "#b0527a"  # it ran, failed its checks and was reverted


class AlertMarkers:
    """Keeps one region and one label per alert id on a plot, updated in place each frame.

    Labels sit at the top of the plot at the alert's start, staggered over three lines so
    alerts close together stay readable.
    """

    def __init__(self, plot_item: pg.PlotItem, theme: Theme) -> None:
        self.plot_item = plot_item
        self.theme = theme
        self.items: dict[str, tuple[pg.LinearRegionItem, pg.TextItem, AlertEvent]] = {}

    def update(self, alerts: list[AlertEvent], origin: float, now: float) -> None:
        (x0, x1), (_y0, y1) = self.plot_item.vb.viewRange()
        visible = [a for a in alerts if a.start - origin <= x1 and (a.end is None or a.end - origin >= x0)]
        visible = visible[-MAX_MARKERS:]
        wanted = {a.id for a in visible}
        for alert_id in [k for k in self.items if k not in wanted]:
            region, label, _alert = self.items.pop(alert_id)
            self.plot_item.removeItem(region)
            self.plot_item.removeItem(label)
        for row, alert in enumerate(visible):
            end = alert.end if alert.end is not None else max(now, alert.start)
            entry = self.items.get(alert.id)
            if entry is None or entry[2].severity != alert.severity:
                if entry is not None:
                    self.plot_item.removeItem(entry[0])
                    self.plot_item.removeItem(entry[1])
                entry = self._make(alert)
            region, label, _ = entry
            self.items[alert.id] = (region, label, alert)
            region.setRegion((alert.start - origin, end - origin))
            label.setText(self.label_text(alert))
            label.setAnchor((0, -(row % 3)))
            label.setPos(max(alert.start - origin, x0), y1)

    @staticmethod
    def label_text(alert: AlertEvent) -> str:
        return "%s · %s (%s)" % (kind_label(alert.kind), alert.source, alert.severity)

    def _make(self, alert: AlertEvent) -> tuple[pg.LinearRegionItem, pg.TextItem, AlertEvent]:
        color = QColor(SEVERITY_COLORS.get(alert.severity, SEVERITY_COLORS["warning"]))
        fill = QColor(color)
        fill.setAlpha(45)
        region = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(fill), pen=pg.mkPen(color, width=1))
        region.setZValue(-5)
        label = pg.TextItem(self.label_text(alert), color=color, anchor=(0, 0))  # plain text
        self.plot_item.addItem(region, ignoreBounds=True)
        self.plot_item.addItem(label, ignoreBounds=True)
        return region, label, alert

    def labels(self) -> list[str]:
        return [label.toPlainText() for _r, label, _a in self.items.values()]


class ActivationMarkers:
    """A dashed line and a label per model activation (deploy, activate, rollback) in view.

    Labels sit near the bottom of the plot, clear of the alert labels at the top, staggered
    over three heights so activations close together stay readable, and on the side of the
    line with room (left of it in the right half, where live data arrives). They name the
    model only when more than one model changed in view.
    """

    def __init__(self, plot_item: pg.PlotItem) -> None:
        self.plot_item = plot_item
        self.lines: dict[str, pg.InfiniteLine] = {}
        self._placed: dict[str, tuple[str, int, int]] = {}  # each label's text, side and height as drawn

    def update(self, shown: list[Activation], origin: float) -> None:
        shown = shown[-MAX_MARKERS:]
        wanted = {a.key for a in shown}
        for key in [k for k in self.lines if k not in wanted]:
            self.plot_item.removeItem(self.lines.pop(key))
            self._placed.pop(key, None)
        (x0, x1), _ = self.plot_item.vb.viewRange()
        several = len({a.model for a in shown}) > 1
        for row, activation in enumerate(shown):
            line = self.lines.get(activation.key)
            if line is None:
                color = ROLLED_BACK_COLOR if activation.result == "rolled_back" else ACTIVATION_COLOR
                line = pg.InfiniteLine(angle=90, movable=False,
                                       pen=pg.mkPen(color, width=2, style=Qt.PenStyle.DashLine),
                                       label="", labelOpts={"color": color})
                self.plot_item.addItem(line, ignoreBounds=True)
                self.lines[activation.key] = line
            x = activation.t - origin
            line.setPos(x)
            text = activation.chart_label(several)
            side = 1 if x > (x0 + x1) / 2 else 0
            placed = (text, side, row % 3)
            if self._placed.get(activation.key) != placed:  # laying text out is the costly part: on change only
                self._placed[activation.key] = placed
                line.label.setText(text)  # plain text (a TextItem)
                line.label.anchors = [(side, 1), (side, 1)]
                line.label.setPosition(0.06 + 0.1 * (row % 3))  # also places it with the anchor above

    def labels(self) -> list[str]:
        return [line.label.toPlainText() for line in self.lines.values()]
