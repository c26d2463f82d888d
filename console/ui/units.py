"""Scaling and formatting of values by the unit the metric table gives them (no Qt)."""

from __future__ import annotations

import math

from console.core.telemetry.metric_values import whole_text
from device_runtime.protocol import MetricSpec

_PREFIXES = ("", "k", "M", "G", "T")
_BYTE_BASES = ("B/s", "B")


def split_byte_unit(unit: str) -> tuple[int, str] | None:
    """``"MB"`` -> (2, "B"); ``"B/s"`` -> (0, "B/s"); None for units that are not bytes."""
    for base in _BYTE_BASES:
        if unit.endswith(base):
            prefix = unit[: -len(base)]
            if prefix in _PREFIXES:
                return _PREFIXES.index(prefix), base
    return None


def scale_for(unit: str, peak: float) -> tuple[float, str]:
    """The divisor and the unit to show values of ``unit`` whose largest magnitude is ``peak``:
    byte units move to the prefix that keeps numbers readable (1.2e6 B/s -> 1.2 MB/s)."""
    parsed = split_byte_unit(unit)
    if parsed is None:
        return 1.0, unit
    start, base = parsed
    peak = abs(peak) if math.isfinite(peak) else 0.0
    step = start
    value = peak
    while value >= 1000.0 and step < len(_PREFIXES) - 1:
        value /= 1000.0
        step += 1
    return 1000.0 ** (step - start), _PREFIXES[step] + base


def format_number(value: float) -> str:
    magnitude = abs(value)
    if magnitude == 0:
        return "0"
    if magnitude >= 100:
        return "%.0f" % value
    if magnitude >= 10:
        return "%.1f" % value
    return "%.2f" % value


def format_value(value: float | None, unit: str) -> str:
    """``1234567, "B/s"`` -> ``"1.23 MB/s"``; None or NaN -> "n/a"."""
    if value is None or not math.isfinite(value):
        return "n/a"
    divisor, shown = scale_for(unit, value)
    number = format_number(value / divisor)
    if not shown:
        return number
    if shown == "%":
        return number + " %"
    return "%s %s" % (number, shown)


def format_metric(value: float | None, spec: MetricSpec) -> str:
    """A value as its metric declares it: a mode by its name, a counter without decimals, else with its unit."""
    whole = whole_text(spec, value)
    if whole is None:
        return format_value(value, spec.unit)
    return "%s %s" % (whole, spec.unit) if spec.unit and not spec.labels else whole
