"""Alerts drawn on a chart: a shaded band from start to end (to now while ongoing) with a
label naming the kind, coloured and worded by severity, so colour is never alone."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor

from console.core.alerts import kind_label
from console.ui.theme import Theme
from device_runtime.protocol import SEVERITY_CRITICAL, AlertEvent

SEVERITY_COLORS = {"warning": "#d99a1c", SEVERITY_CRITICAL: "#d64545"}
MAX_MARKERS = 40  # per chart: the newest ones in view


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
