"""Export of a session's telemetry to CSV, without Qt: the GUI's file dialog and tests call it.

Headers come from the metric table (``name [unit]``), a mode's cells are its names ("15W") and a
counter's are whole numbers; each row carries its time twice, as
ISO 8601 (UTC) for people and spreadsheets and as epoch seconds for scripts. Where the session
is older than the full-rate ring, the older part is exported as 10 s min/max bucket rows and
the ``resolution`` column says so. Absent values are empty cells, never 0.
"""

from __future__ import annotations

import errno
import math
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from console.core.telemetry.metric_values import whole_text
from console.core.telemetry.metrics import TelemetryStore
from device_runtime.fileio import replacing
from device_runtime.protocol import MetricSpec

_NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)

TIME_COLUMNS = ("time_iso", "time_epoch_s", "resolution")


class ExportError(Exception):
    """An export that could not be written; the message says why and what to do."""


def csv_header(metrics: Sequence[MetricSpec]) -> list[str]:
    return [*TIME_COLUMNS, *("%s [%s]" % (m.name, m.unit) if m.unit else m.name for m in metrics)]


def iso_time(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds")


def _cell(value: float, spec: MetricSpec) -> str:
    if math.isnan(value):
        return ""
    whole = whole_text(spec, value)
    return whole if whole is not None else "%.7g" % value


def write_csv(store: TelemetryStore, out: IO[str], start: float | None = None, end: float | None = None) -> int:
    """Write the rows between ``start`` and ``end`` (the whole session for None); returns the
    number of data rows."""
    window = store.window(None, -math.inf if start is None else start, math.inf if end is None else end)
    out.write(",".join(_quote(h) for h in csv_header(store.metrics)) + "\r\n")
    bucket = "%gs" % store.decimate_s
    times, values = window.times, window.values.astype(float)
    for i in range(len(times)):
        peak = i < window.peak_rows
        resolution = ("%s min" % bucket if i % 2 == 0 else "%s max" % bucket) if peak else "sample"
        t = float(times[i])
        cells = [iso_time(t), "%.3f" % t, resolution, *map(_cell, values[i].tolist(), store.metrics)]
        out.write(",".join(cells) + "\r\n")
    return len(times)


def _quote(text: str) -> str:
    if any(c in text for c in ',"\r\n'):
        return '"%s"' % text.replace('"', '""')
    return text


def export_csv(store: TelemetryStore, path: Path, start: float | None = None, end: float | None = None) -> int:
    """Write a CSV file atomically: on any failure an existing file at ``path`` is untouched."""
    if store.last_t is None:
        raise ExportError("No telemetry has arrived yet, so there is nothing to export. "
                          "Wait for the charts to show data, then export again.")
    folder = path.parent
    if not folder.is_dir():
        raise ExportError("Cannot write %s: the folder %s does not exist. Choose an existing folder."
                          % (path, folder))
    try:
        with replacing(path, mode=0o644, encoding="utf-8", newline="") as handle:
            rows = write_csv(store, handle, start, end)
    except OSError as exc:
        what = "a folder you can write to" if exc.errno in _NOT_WRITABLE else "another file or folder"
        raise ExportError("Cannot write %s: %s. Choose %s." % (path, exc.strerror or exc, what)) from None
    return rows
