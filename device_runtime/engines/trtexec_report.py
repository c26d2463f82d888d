"""``edge-runtime parse-trtexec``: read a trtexec log or an ``--exportTimes`` trace and say what
it holds, as text for a person or JSON for tools. Pure: text in, text out."""

from __future__ import annotations

import json
from typing import List, Optional, Tuple, Union

from device_runtime.engines.latency_stats import LatencyStats
from device_runtime.engines.trtexec_parse import ExportTimesReport, TrtexecReport, parse_trtexec_log
from device_runtime.engines.trtexec_times import parse_export_times

Report = Union[TrtexecReport, ExportTimesReport]

_METRICS = (
    ("latency", "Latency"),
    ("end_to_end_host_latency", "End-to-end host latency"),
    ("enqueue_time", "Enqueue time"),
    ("h2d_latency", "H2D"),
    ("gpu_compute_time", "GPU compute"),
    ("d2h_latency", "D2H"),
)


class NotTrtexecOutput(ValueError):
    pass


def read_report(text: str, name: str) -> Report:
    """A JSON list is an ``--exportTimes`` trace; anything else is read as a log."""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, list):
        try:
            return parse_export_times(data)
        except ValueError as exc:
            raise NotTrtexecOutput("%s is JSON but not an --exportTimes trace: %s" % (name, exc)) from None
    report = parse_trtexec_log(text)
    if not report.has_summary and report.trt_version is None and report.passed is None:
        raise NotTrtexecOutput("%s holds no trtexec output (no version, no performance summary, no status "
                               "line): give the log trtexec printed, or its --exportTimes JSON" % name)
    return report


def _stats_line(label: str, stats: LatencyStats) -> str:
    parts: List[Tuple[str, Optional[float]]] = [
        ("min", stats.min), ("max", stats.max), ("mean", stats.mean), ("median", stats.median)]
    parts += [("p%g" % pct, value) for pct, value in sorted(stats.percentiles.items())]
    body = ", ".join("%s %.4g" % (key, value) for key, value in parts if value is not None)
    extra = " (CoV %.3g%%)" % stats.cov_percent if stats.cov_percent is not None else ""
    return "%-25s %s ms%s" % (label + ":", body, extra)


def format_text(report: Report) -> str:
    lines: List[str] = []
    if isinstance(report, ExportTimesReport):
        lines.append("--exportTimes trace: %d queries" % report.query_count)
        if report.throughput_qps is not None:
            lines.append("Throughput:               %.4g qps (from the trace's span)" % report.throughput_qps)
        for attribute, label in _METRICS:
            stats = getattr(report, attribute, None)
            if stats is not None:
                lines.append(_stats_line(label, stats))
    else:
        lines.append("TensorRT:                 %s" % (report.trt_version or "not stated"))
        lines.append("Device:                   %s" % (report.device or "not stated"))
        if report.throughput_qps is not None:
            lines.append("Throughput:               %.4g qps" % report.throughput_qps)
        for attribute, label in _METRICS:
            stats = getattr(report, attribute)
            if stats is not None:
                lines.append(_stats_line(label, stats))
        if report.total_host_walltime_s is not None:
            lines.append("Total host walltime:      %.4g s" % report.total_host_walltime_s)
        if report.total_gpu_compute_time_s is not None:
            lines.append("Total GPU compute time:   %.4g s" % report.total_gpu_compute_time_s)
        status = {True: "PASSED", False: "FAILED", None: "no status line"}[report.passed]
        lines.append("Result:                   %s" % status)
        lines.extend("Error: %s" % error for error in report.errors)
    lines.extend("Warning: %s" % warning for warning in report.warnings)
    return "\n".join(lines) + "\n"
