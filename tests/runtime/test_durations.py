"""The one spelling of a duration, shared by the daemon's health checks and the console."""

from __future__ import annotations

from device_runtime.durations import duration


def test_each_range_keeps_its_two_largest_units() -> None:
    cases = {None: "-", -3.0: "0.0s", 0.4: "0.4s", 9.94: "9.9s", 10: "10s", 42: "42s", 59.4: "59s", 60: "1m00s",
             200: "3m20s", 3599: "59m59s", 3600: "1h00m", 3900: "1h05m", 86399: "23h59m", 86400: "1d00h",
             3 * 86400 + 4 * 3600 + 59: "3d04h"}
    assert {s: duration(s) for s in cases} == cases


def test_the_console_spells_durations_with_the_same_function() -> None:
    from console.core import text_units

    assert text_units.duration is duration
