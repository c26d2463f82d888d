"""Durations in the words the console and the device both print: ``3.2s``, ``42s``, ``2m05s``,
``2h01m``, ``3d04h``. One spelling for a job's time left, a transfer's, an alert's length and the
runtime's uptime in a health check.

A stdlib-only leaf: the daemon uses it and so does the console (which reaches the device
runtime only through the protocol, the package format and leaves such as this one).
"""

from __future__ import annotations

from typing import Optional


def duration(seconds: Optional[float]) -> str:
    """``None`` is "-"; under 10 s one decimal, under a minute whole seconds, then the two
    largest units (minutes and seconds, hours and minutes, days and hours)."""
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return "%.0fs" % seconds if seconds >= 10 else "%.1fs" % seconds
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return "%dm%02ds" % (minutes, secs)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return "%dh%02dm" % (hours, minutes)
    days, hours = divmod(hours, 24)
    return "%dd%02dh" % (days, hours)
