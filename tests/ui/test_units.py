from __future__ import annotations

import math

import pytest

from console.ui.units import format_value, scale_for


@pytest.mark.parametrize(("unit", "peak", "divisor", "shown"), [
    ("B/s", 512.0, 1.0, "B/s"),
    ("B/s", 2.5e6, 1e6, "MB/s"),
    ("B/s", 3e9, 1e9, "GB/s"),
    ("MB", 24105.0, 1e3, "GB"),
    ("%", 1e6, 1.0, "%"),
    ("°C", 45.0, 1.0, "°C"),
    ("B/s", math.nan, 1.0, "B/s"),
])
def test_scale_for(unit: str, peak: float, divisor: float, shown: str) -> None:
    assert scale_for(unit, peak) == (divisor, shown)


@pytest.mark.parametrize(("value", "unit", "text"), [
    (1234567.0, "B/s", "1.23 MB/s"),
    (0.0, "B/s", "0 B/s"),
    (42.25, "%", "42.2 %"),
    (3.14159, "ms", "3.14 ms"),
    (None, "°C", "n/a"),
    (math.nan, "°C", "n/a"),
])
def test_format_value(value: float | None, unit: str, text: str) -> None:
    assert format_value(value, unit) == text
