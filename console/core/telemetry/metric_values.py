"""How one metric's value reads, from its declaration in the metric table (no Qt).

A mode is a code that stands for a name (``labels``: nvpmodel id 2 is "15W"), a counter is a
whole number; the chart, its hover, its axis and the CSV export all say it the same way.
"""

from __future__ import annotations

import math

from device_runtime.protocol import MetricSpec


def whole_text(spec: MetricSpec, value: float | None) -> str | None:
    """The name a code stands for ("15W"), or a whole number ("3"); None for a measured value,
    which the caller formats with its unit, and for no value (None or NaN)."""
    if value is None or not math.isfinite(value) or not (spec.integer or spec.labels):
        return None
    code = "%d" % round(value)
    if spec.labels:
        return spec.labels.get(code, "code %s" % code)
    return code


def axis_ticks(spec: MetricSpec) -> list[tuple[float, str]]:
    """The y axis of a mode: one tick per named code, with its name."""
    return sorted((float(code), name) for code, name in spec.labels.items()
                  if code.lstrip("-").isdigit())
