"""Durations and sizes in the words edgectl and the GUI print (``1m05s``, ``12.5 MB``). Durations
are spelled by :mod:`device_runtime.durations`, which the device's health checks use too.

Apart from the job reports (:mod:`console.core.jobs.report`, which re-exports them) so that a
command printing a transfer's progress does not import the benchmark statistics and NumPy.
"""

from __future__ import annotations

from device_runtime.durations import duration

__all__ = ["duration", "size"]


def size(num_bytes: float | None) -> str:
    if num_bytes is None:
        return "-"
    value = float(num_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(value) < 1000 or unit == "GB":
            return ("%.0f %s" if unit == "B" else "%.1f %s") % (value, unit)
        value /= 1000
    return "%.1f GB" % value  # pragma: no cover - the loop always returns
