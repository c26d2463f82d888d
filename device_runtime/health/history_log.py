"""The health history on disk, so a daemon restart or a reboot keeps the record of past runs.

One JSON line per report, appended as it is made (no fsync: a report every 30 s would wear a
Jetson's eMMC for little; a power cut costs at most the last lines). A line cut short by a
crash or a full disk is skipped when the file is read back, and the file is then rewritten
without it, so the next append starts on a line of its own. The file is compacted to the last
``keep`` reports once it holds twice that many. Failing to write (a full or read-only disk)
never stops a health run: the report stays in memory and the problem is logged once.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Iterable, List, Optional

from device_runtime.fileio import write_atomic
from device_runtime.protocol import HealthReport, ProtocolError

log = logging.getLogger("edge_runtime.health")

HISTORY_FILE = os.path.join("health", "history.jsonl")


def _line(report: HealthReport) -> str:
    return json.dumps(report.to_wire(), separators=(",", ":"), ensure_ascii=False) + "\n"


class HistoryLog:
    def __init__(self, path: str, keep: int) -> None:
        self.path = path
        self.keep = keep
        self._lines = 0  # lines in the file, to know when to compact
        self._failing: Optional[str] = None  # the error of the last failed write, logged once

    def load(self) -> List[HealthReport]:
        """The last ``keep`` reports in the file, oldest first; a damaged line is skipped."""
        try:
            with open(self.path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return []
        except OSError as exc:
            log.warning("cannot read the health history %s: %s; starting a new one", self.path, exc)
            return []
        reports: List[HealthReport] = []
        damaged = 0
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                reports.append(HealthReport.from_wire(json.loads(line.decode("utf-8"))))
            except (ValueError, TypeError, AttributeError, ProtocolError):
                damaged += 1
        kept = reports[-self.keep:] if self.keep else []
        self._lines = len(reports) + damaged
        if damaged:
            log.warning("skipped %d damaged line(s) of the health history %s", damaged, self.path)
        if damaged or not data.endswith(b"\n") or len(reports) > self.keep:
            try:
                self._rewrite(kept)
            except OSError as exc:
                log.warning("cannot rewrite the health history %s: %s", self.path, exc)
        return kept

    def append(self, report: HealthReport, history: Iterable[HealthReport]) -> None:
        """Add ``report``; ``history`` (the reports kept in memory, ``report`` last) is what a
        compaction writes."""
        line = _line(report)
        try:
            if self._lines + 1 > 2 * self.keep:
                self._rewrite(list(history)[-self.keep:])
            else:
                os.makedirs(os.path.dirname(self.path), exist_ok=True)
                with open(self.path, "a", encoding="utf-8") as handle:
                    handle.write(line)
                self._lines += 1
        except OSError as exc:
            if self._failing != str(exc):
                log.warning("cannot write the health history %s: %s; it is kept in memory until that works "
                            "again", self.path, exc)
                self._failing = str(exc)
            return
        if self._failing is not None:
            log.info("the health history %s is written again", self.path)
            self._failing = None

    def _rewrite(self, reports: List[HealthReport]) -> None:
        """Replace the file with ``reports``, written whole and renamed into place."""
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        write_atomic(self.path, "".join(_line(r) for r in reports).encode("utf-8"))
        self._lines = len(reports)
