"""The plot area of a chart: the wheel with Ctrl (or any modifier) zooms time and a drag pans it,
nothing else; a plain wheel scrolls the page, so a long Dashboard can be scrolled over its charts.

The charts of a Dashboard share one time range, so the view box does not change its own range:
it reports what the user asked for and the Dashboard applies it to every chart. The y axis
never zooms (ranges come from the metric table), and a wheel over the y axis scrolls the page.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal

ZOOM_MODIFIERS = (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
                  | Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier)
WHEEL_BASE = 1.02  # per 1/8 degree of wheel travel, as pyqtgraph's own wheel zoom


class TimeViewBox(pg.ViewBox):  # type: ignore[misc]
    zoomRequested = Signal(float, float)  # factor (< 1 zooms in), x under the pointer (plot coordinates)
    panRequested = Signal(float)  # x distance to move the view by (plot coordinates)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(enableMenu=False, **kwargs)
        self.setMouseEnabled(x=False, y=False)

    def wheelEvent(self, ev: Any, axis: int | None = None) -> None:
        if axis == 1 or not ev.delta() or not ev.modifiers() & ZOOM_MODIFIERS:
            ev.ignore()  # the page scrolls
            return
        factor = WHEEL_BASE ** (-ev.delta() / 8.0)
        x = float(self.mapSceneToView(ev.scenePos()).x())
        self.zoomRequested.emit(factor, x)
        ev.accept()

    def mouseDragEvent(self, ev: Any, axis: int | None = None) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or axis == 1:
            ev.ignore()
            return
        ev.accept()
        before = self.mapSceneToView(ev.lastScenePos()).x()
        after = self.mapSceneToView(ev.scenePos()).x()
        if after != before:
            self.panRequested.emit(float(before - after))
