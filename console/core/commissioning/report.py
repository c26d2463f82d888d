"""A commissioning report on disk: JSON for machines, a printable self-contained HTML page for
people (inline styles, no scripts, no external assets; every device string escaped).

Reports live per robot: ``<folder>/<serial>/commissioning-<YYYYmmdd-HHMMSS>.json`` and ``.html``.
"""

from __future__ import annotations

import html
import json
import time
from pathlib import Path

from console.core.commissioning.checklist import (
    FAIL,
    PASS,
    PASSED,
    SKIP,
    STATUS_WORDS,
    CommissionReport,
    safe_serial,
)
from device_runtime.fileio import write_atomic

# Colour always comes with the word; these read on white paper and in greyscale print.
STATUS_COLORS = {PASS: "#1f7a3a", FAIL: "#b3261e", SKIP: "#5f6672"}
OVERALL_COLORS = {PASSED: "#1f7a3a"}
CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; color: #1f2328; margin: 24px; font-size: 11pt; }
h1 { font-size: 18pt; margin: 0 0 4px 0; }
.verdict { display: inline-block; padding: 4px 12px; border-radius: 4px; color: #fff; font-weight: bold; }
table { border-collapse: collapse; width: 100%; margin: 12px 0; }
th, td { border: 1px solid #d5d9df; padding: 6px 8px; text-align: left; vertical-align: top; }
th { background: #f3f4f6; }
.status { font-weight: bold; white-space: nowrap; }
.details { color: #5f6672; font-size: 9.5pt; margin: 4px 0 0 0; padding-left: 16px; }
.facts td:first-child { width: 28%; color: #5f6672; }
@media print { body { margin: 0; } }
"""


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "not finished"


def report_html(report: CommissionReport) -> str:
    e = html.escape
    verdict_color = OVERALL_COLORS.get(report.overall, "#b3261e")
    rows = []
    for number, step in enumerate(report.steps, start=1):
        color = STATUS_COLORS.get(step.status, "#5f6672")
        details = "".join("<li>%s</li>" % e(d) for d in step.details)
        rows.append(
            "<tr><td>%d</td><td>%s</td><td class=\"status\" style=\"color:%s\">%s</td><td>%s%s</td></tr>"
            % (number, e(step.title), color, e(STATUS_WORDS.get(step.status, step.status)), e(step.reason),
               "<ul class=\"details\">%s</ul>" % details if details else ""))
    facts = "".join("<tr><td>%s</td><td>%s</td></tr>" % (e(k), e(v)) for k, v in report.facts.items())
    counts = {s: sum(1 for st in report.steps if st.status == s) for s in (PASS, FAIL, SKIP)}
    return """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Commissioning report %(serial)s</title>
<style>%(css)s</style></head>
<body>
<h1>Commissioning report: robot %(serial)s</h1>
<p>Device %(device)s &middot; started %(started)s &middot; finished %(finished)s &middot; by %(operator)s</p>
<p><span class="verdict" style="background:%(color)s">%(verdict)s</span>
&nbsp; %(passed)d passed, %(failed)d failed, %(skipped)d skipped</p>
<p><b>Afterwards:</b> %(end_state)s</p>
<table><tr><th>#</th><th>Step</th><th>Result</th><th>Reason and findings</th></tr>
%(rows)s
</table>
<h2>Device</h2>
<table class="facts">%(facts)s</table>
<p style="color:#5f6672; font-size:9pt">Edge Operator Console %(console)s, report schema %(schema)d</p>
</body></html>
""" % {"serial": e(report.serial), "css": CSS, "device": e(report.device), "started": _when(report.started),
       "finished": _when(report.finished), "operator": e(report.operator), "color": verdict_color,
       "verdict": e(report.overall.upper()), "passed": counts[PASS], "failed": counts[FAIL],
       "skipped": counts[SKIP],
       "end_state": e(report.end_state or "not read"), "rows": "\n".join(rows), "facts": facts,
       "console": e(report.console_version),
       "schema": report.schema}


def report_paths(report: CommissionReport, folder: Path) -> tuple[Path, Path]:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(report.started))
    base = folder / safe_serial(report.serial) / ("commissioning-%s" % stamp)
    return base.with_suffix(".json"), base.with_suffix(".html")


def _json_bytes(report: CommissionReport) -> bytes:
    return (json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_report(report: CommissionReport, folder: Path) -> tuple[Path, Path]:
    """Write both files; raises OSError with the path when the folder cannot be written."""
    json_path, html_path = report_paths(report, folder)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(json_path, _json_bytes(report))  # the user's umask applies, as to any file they write
    write_atomic(html_path, report_html(report).encode("utf-8"))
    return json_path, html_path


def read_report(path: Path) -> CommissionReport:
    return CommissionReport.from_json(json.loads(path.read_text(encoding="utf-8")))


# The last run of each device, kept under the console's data directory (the full reports go to the
# folder the technician chose): a failed run still shows on the Health page and in the sidebar after
# the console restarts, until a run passes.
LAST_RUNS = "commissioning"


def last_run_path(data_dir: Path, device: str) -> Path:
    return data_dir / LAST_RUNS / ("%s.json" % safe_serial(device))


def remember_last_run(report: CommissionReport, data_dir: Path, device: str) -> None:
    """Raises OSError with the path when the data directory cannot be written."""
    path = last_run_path(data_dir, device)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, _json_bytes(report))


def recall_last_run(data_dir: Path, device: str) -> CommissionReport | None:
    """The device's last run, None when it has none; raises ValueError naming the file when it is unreadable."""
    path = last_run_path(data_dir, device)
    try:
        return read_report(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError("%s is not a readable commissioning record (%s); delete it, or commission %s again"
                         % (path, exc, device)) from None
