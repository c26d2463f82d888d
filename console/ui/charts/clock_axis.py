"""A time axis labelled with wall-clock times while the plot itself uses small x values.

Plotting epoch seconds (~1.7e9) directly makes Qt's raster painter slow (grid and curve
clipping at huge coordinates cost ~10x more per frame), so charts plot ``t - origin`` and this
axis adds ``origin`` back when it picks and labels ticks.
"""

from __future__ import annotations

import time
from typing import Any

import pyqtgraph as pg

# Tick spacings in seconds, finest first.
SPACINGS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)
MIN_PIXELS_PER_TICK = 80


def _utc_offset(t: float) -> float:
    return float(time.localtime(t).tm_gmtoff)


class ClockAxis(pg.AxisItem):  # type: ignore[misc]
    def __init__(self, orientation: str = "bottom", **kwargs: Any) -> None:
        super().__init__(orientation, **kwargs)
        self.origin = 0.0

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, list[float]]]:
        span = maxVal - minVal
        if span <= 0 or size <= 0:
            return []
        wanted = max(1.0, size / MIN_PIXELS_PER_TICK)
        spacing = next((s for s in SPACINGS_S if span / s <= wanted), SPACINGS_S[-1])
        start_abs = minVal + self.origin
        offset = _utc_offset(start_abs)
        first = ((start_abs + offset) // spacing + 1) * spacing - offset
        ticks = []
        t = first
        while t <= maxVal + self.origin:
            ticks.append(t - self.origin)
            t += spacing
        return [(float(spacing), ticks)]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        fmt = "%H:%M:%S" if spacing < 60 else "%H:%M"
        return [time.strftime(fmt, time.localtime(v + self.origin)) for v in values]
