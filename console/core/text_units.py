"""Durations and sizes in the words edgectl and the GUI print (``1m05s``, ``12.5 MB``).

Apart from the job reports (:mod:`console.core.jobs.report`, which re-exports them) so that a
command printing a transfer's progress does not import the benchmark statistics and NumPy.
"""

from __future__ import annotations


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return "%.0fs" % seconds if seconds >= 10 else "%.1fs" % seconds
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return "%dm%02ds" % (minutes, secs)
    hours, minutes = divmod(minutes, 60)
    return "%dh%02dm" % (hours, minutes)


def size(num_bytes: float | None) -> str:
    if num_bytes is None:
        return "-"
    value = float(num_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(value) < 1000 or unit == "GB":
            return ("%.0f %s" if unit == "B" else "%.1f %s") % (value, unit)
        value /= 1000
    return "%.1f GB" % value  # pragma: no cover - the loop always returns
