"""What ``edge-runtime doctor`` says about the collectors: what each reads now, what it cannot
read and why, and which of those are problems to fix rather than facts of the board.

A reason that starts with "cannot read" (the collectors' wording for a file that exists but
failed) is a problem; so is a metric a collector declared but could not read now. Anything
else absent ("no fan in hwmon", "needs root") describes the board and is not a problem.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, NamedTuple, Sequence

from device_runtime.collectors.base import Collector

# Rates (CPU load, disk and network) need two readings some jiffies apart.
SETTLE_S = 0.25


class CollectorReport(NamedTuple):
    name: str
    reads: Dict[str, float]
    units: Dict[str, str]
    absent: Dict[str, str]
    problems: List[str]
    sources: Dict[str, str]  # metric -> the file or call it is read from now

    def to_json(self) -> Dict[str, Any]:
        return {
            "metrics": len(self.units),
            "reads": {k: dict({"value": v, "unit": self.units.get(k, "")},
                              **({"source": self.sources[k]} if k in self.sources else {}))
                      for k, v in self.reads.items()},
            "absent": dict(self.absent),
            "problems": list(self.problems),
        }


def check_collectors(collectors: Sequence[Collector], settle_s: float = SETTLE_S) -> List[CollectorReport]:
    """Read every collector twice (``settle_s`` apart, so rates have a baseline) and report."""
    first: Dict[str, Dict[str, float]] = {}
    failures: Dict[str, str] = {}
    for collector in collectors:
        try:
            first[collector.name] = collector.collect()
        except Exception as exc:  # a collector bug is a finding, not a crash of the doctor
            failures[collector.name] = "collect() failed: %s" % exc
    if settle_s > 0:
        time.sleep(settle_s)
    out = []
    for collector in collectors:
        units = {spec.name: spec.unit for spec in collector.metrics()}
        try:
            values = dict(first.get(collector.name, {}), **collector.collect())
        except Exception as exc:
            values = first.get(collector.name, {})
            failures[collector.name] = "collect() failed: %s" % exc
        absent = collector.absent()
        problems = ["%s: %s" % (what, why) for what, why in sorted(absent.items()) if why.startswith("cannot read")]
        problems += ["%s is declared but could not be read now" % name for name in units if name not in values]
        if collector.name in failures:
            problems.append(failures[collector.name])
        out.append(CollectorReport(collector.name, values, units, absent, problems, collector.sources()))
    return out


def format_value(value: float, unit: str) -> str:
    text = ("%.0f" % value) if abs(value) >= 100 or value == int(value) else ("%.2f" % value).rstrip("0")
    return "%s %s" % (text, unit) if unit else text


def format_text(reports: Sequence[CollectorReport]) -> List[str]:
    lines = []
    for report in reports:
        lines.append("collector %s: %d metrics, %d read now" % (report.name, len(report.units), len(report.reads)))
        for name in sorted(report.reads):
            source = "  [from %s]" % report.sources[name] if name in report.sources else ""
            lines.append("  reads          %-36s %s%s" % (name, format_value(report.reads[name],
                                                                            report.units.get(name, "")), source))
        for what, why in sorted(report.absent.items()):
            lines.append("  not available  %s (%s)" % (what, why))
        for problem in report.problems:
            lines.append("  PROBLEM        %s" % problem)
    total = sum(len(r.problems) for r in reports)
    lines.append("%d problem(s) found" % total if total else "no problems found")
    return lines
