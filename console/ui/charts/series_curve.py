"""One series of a dashboard chart: a pyqtgraph curve fed data that is already clipped to the
view and peak-decimated.

``PlotDataItem`` would clip, downsample and scan for non-finite values once more per curve and
per frame, and pyqtgraph recomputes a curve's bounds (NaN-aware min and max of both axes) each
time the scene asks for them. The chart knows all of that already: it says whether the series
has gaps and hands over its bounds, which this curve then reports as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg

Bounds = tuple[float, float] | tuple[None, None]


class SeriesCurve(pg.PlotCurveItem):  # type: ignore[misc]
    def __init__(self, pen: Any) -> None:
        super().__init__(pen=pen, connect="all", skipFiniteCheck=True)
        self._bounds: tuple[Bounds, Bounds] | None = None

    def show_series(self, x: npt.NDArray[np.float64], y: npt.NDArray[Any], gap_free: bool,
                    x_bounds: Bounds, y_bounds: Bounds) -> None:
        """Draw ``y`` over ``x``; a NaN in ``y`` (only where ``gap_free`` is False) breaks the
        line, never a zero. The bounds are the finite extremes of ``x`` and ``y``."""
        self._bounds = None
        self.setData(x=x, y=y, connect="all" if gap_free else "finite", skipFiniteCheck=gap_free)
        self._bounds = (x_bounds, y_bounds)

    def getOriginalDataset(self) -> tuple[Any, Any]:
        """What was last drawn, as ``PlotDataItem.getOriginalDataset`` would return it."""
        x, y = self.getData()
        return x, y

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange: Any = None) -> Any:
        if self._bounds is not None and frac >= 1.0 and orthoRange is None:
            return self._bounds[ax]
        return super().dataBounds(ax, frac, orthoRange)
