"""Parse trtexec's text output of every TensorRT generation into one typed report.

Summary formats handled (``samples/common/sampleReporting.cpp`` history):

* ``legacy`` (TensorRT 7.x): a ``Host Latency`` block of ``min: x ms (end to end y ms)`` lines,
  ``throughput: q qps``, ``walltime: s``, then ``Enqueue Time`` and ``GPU Compute`` blocks.
* ``end_to_end`` (8.0-8.3): ``=== Performance summary ===`` with ``Latency``,
  ``End-to-End Host Latency`` and one ``percentile(99%)``.
* ``single_percentile`` (8.4): the same without ``End-to-End Host Latency``.
* ``multi_percentile`` (8.5 to 11.x): percentiles 90/95/99 by default. TensorRT 11 kept the text
  but flipped the defaults (CUDA graphs and spin-wait on, data transfers off), so there
  ``Latency`` equals ``GPU Compute Time`` unless ``--includeDataTransfers`` was given.

Lines may carry the ``[MM/DD/YYYY-HH:MM:SS] [I] `` prefix or not (users paste both). When a log
holds several runs, later values win. ``--exportTimes`` traces are read by
:mod:`device_runtime.engines.trtexec_times`, re-exported here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from device_runtime.engines.latency_stats import LatencyStats
from device_runtime.engines.trt_version import TrtVersion
from device_runtime.engines.trtexec_times import ExportTimesReport, parse_export_times

__all__ = [
    "ExportTimesReport",
    "LatencyStats",
    "TrtexecReport",
    "parse_export_times",
    "parse_trtexec_log",
    "strip_prefix",
]

_PREFIX = re.compile(r"^\s*(?:\[\d{2}/\d{2}/\d{4}-\d{2}:\d{2}:\d{2}\]\s*)*(?:\[([IWEVF])\]\s*)?")
_NUM = r"([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|inf|nan)"
_STAT = re.compile(r"\b(min|max|mean|median)\s*=?\s*" + _NUM + r"\s*ms")
_PCT = re.compile(r"percentile\(\s*(\d+(?:\.\d+)?)\s*%\)\s*=?\s*" + _NUM + r"\s*ms")
_STATUS = re.compile(r"^&&&&\s+(RUNNING|PASSED|FAILED)\s+TensorRT\.trtexec(.*)$")
_STATUS_VERSION = re.compile(r"\[TensorRT v(\d{4,6})\]")
_STATUS_BUILD = re.compile(r"\[b(\d+)\]")
_LEGACY_LINE = re.compile(
    r"^(min|max|mean|median|percentile):\s*" + _NUM + r"\s*ms(?:\s*at\s*(\d+(?:\.\d+)?)%)?"
    r"(?:\s*\(end to end\s*" + _NUM + r"\s*ms(?:\s*at\s*\d+(?:\.\d+)?%)?\))?"
)
_COV = re.compile(r"coefficient of variance = " + _NUM + "%")

# Metric line label -> report attribute (8.0+ summary).
_METRICS = {
    "Latency": "latency",
    "End-to-End Host Latency": "end_to_end_host_latency",
    "Enqueue Time": "enqueue_time",
    "H2D Latency": "h2d_latency",
    "GPU Compute Time": "gpu_compute_time",
    "D2H Latency": "d2h_latency",
}
# TensorRT 7.x block headers (a line with only the name) -> attribute.
_LEGACY_SECTIONS = {
    "Host Latency": "latency",
    "Enqueue Time": "enqueue_time",
    "H2D Latency": "h2d_latency",
    "GPU Compute": "gpu_compute_time",
    "D2H Latency": "d2h_latency",
}
_METRIC_FIELDS = tuple(_METRICS.values())


@dataclass
class TrtexecReport:
    trt_version: Optional[str] = None
    trt_build: Optional[str] = None
    device: Optional[str] = None
    compute_capability: Optional[str] = None
    throughput_qps: Optional[float] = None
    latency: Optional[LatencyStats] = None
    end_to_end_host_latency: Optional[LatencyStats] = None
    enqueue_time: Optional[LatencyStats] = None
    h2d_latency: Optional[LatencyStats] = None
    gpu_compute_time: Optional[LatencyStats] = None
    d2h_latency: Optional[LatencyStats] = None
    total_host_walltime_s: Optional[float] = None
    total_gpu_compute_time_s: Optional[float] = None
    warnings: List[str] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    passed: Optional[bool] = None
    data_transfers_included: Optional[bool] = None
    cuda_graph: Optional[bool] = None
    spin_wait: Optional[bool] = None
    command_line: Optional[str] = None
    summary_format: Optional[str] = None
    query_count: Optional[int] = None
    engine_build_s: Optional[float] = None

    @property
    def version(self) -> Optional[TrtVersion]:
        return TrtVersion.parse(self.trt_version) if self.trt_version else None

    @property
    def has_summary(self) -> bool:
        return self.gpu_compute_time is not None or self.latency is not None

    @property
    def latency_is_gpu_compute(self) -> bool:
        """True when ``Latency`` holds no copies (``--noDataTransfers``, TensorRT 11 default)."""
        return self.data_transfers_included is False

    def to_dict(self) -> Dict[str, object]:
        out: Dict[str, object] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = value.to_dict() if isinstance(value, LatencyStats) else value
        out["latency_is_gpu_compute"] = self.latency_is_gpu_compute
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def strip_prefix(line: str) -> str:
    """Drop trtexec's ``[date-time] [I] `` prefix (any number of timestamps, one severity tag)."""
    return _PREFIX.sub("", line, count=1).rstrip()


def _split(line: str) -> Tuple[Optional[str], str]:
    match = _PREFIX.match(line)
    severity = match.group(1) if match else None
    return severity, line[match.end() if match else 0 :].strip()


def _float(text: str) -> float:
    return float(text)


_LEADING = re.compile(r"^\s*" + _NUM + r"(?:\s|$)")


def _leading_number(text: str) -> Optional[float]:
    """``"3.0348 s"`` -> 3.0348; None for prose such as the verbose metric explanations."""
    match = _LEADING.match(text)
    return float(match.group(1)) if match else None


def _parse_stats(text: str) -> LatencyStats:
    stats = LatencyStats()
    for name, value in _STAT.findall(text):
        setattr(stats, name, _float(value))
    for percent, value in _PCT.findall(text):
        stats.percentiles[float(percent)] = _float(value)
    return stats


def _enabled(text: str) -> Optional[bool]:
    lowered = text.strip().lower()
    if lowered.startswith("enabled"):
        return True
    if lowered.startswith("disabled"):
        return False
    return None


class _Parser:
    def __init__(self) -> None:
        self.report = TrtexecReport()
        self.section: Optional[str] = None
        self.declared_transfers: Optional[bool] = None

    def feed(self, raw: str) -> None:
        severity, body = _split(raw)
        if not body:
            return
        if severity == "W":
            self.report.warnings.append(body)
            cov = _COV.search(body)
            if cov and self.report.gpu_compute_time is not None:
                self.report.gpu_compute_time.cov_percent = _float(cov.group(1))
            return
        if severity in ("E", "F"):
            self.report.errors.append(body)
            return
        if severity == "V":
            return
        if body.startswith("&&&&"):
            self._status(body)
            return
        if self._metric(body) or self._legacy(body):
            return
        self._facts(body)

    def _status(self, body: str) -> None:
        match = _STATUS.match(body)
        if not match:
            return
        state, rest = match.groups()
        if state != "RUNNING":
            self.report.passed = state == "PASSED"
        code = _STATUS_VERSION.search(rest)
        if code and self.report.trt_version is None:
            version = TrtVersion.from_code(code.group(1))
            self.report.trt_version = str(version) if version else None
        build = _STATUS_BUILD.search(rest)
        if build:
            self.report.trt_build = build.group(1)
        if " # " in rest:
            self.report.command_line = rest.split(" # ", 1)[1].strip()

    def _metric(self, body: str) -> bool:
        label, sep, rest = body.partition(":")
        attribute = _METRICS.get(label)
        if not sep or attribute is None or "=" not in rest:
            return False
        setattr(self.report, attribute, _parse_stats(rest))
        self.section = None
        report = self.report
        if attribute == "end_to_end_host_latency":
            report.summary_format = "end_to_end"
        elif report.summary_format != "end_to_end":
            many = len(report.latency.percentiles) > 1 if report.latency else False
            report.summary_format = "multi_percentile" if many else "single_percentile"
        return True

    def _legacy(self, body: str) -> bool:
        if body in _LEGACY_SECTIONS:
            self.section = _LEGACY_SECTIONS[body]
            self.report.summary_format = "legacy"
            return True
        if self.section is None:
            return False
        match = _LEGACY_LINE.match(body)
        if match:
            name, value, percent, end_to_end = match.groups()
            self._legacy_value(self.section, name, _float(value), percent)
            if end_to_end is not None:
                self._legacy_value("end_to_end_host_latency", name, _float(end_to_end), percent)
            return True
        label, _, value = body.partition(":")
        target = {"throughput": "throughput_qps", "walltime": "total_host_walltime_s"}.get(label)
        if label == "total compute time":
            target = "total_gpu_compute_time_s"
            self.section = None
        number = _leading_number(value)
        if target is None or number is None:
            return False
        setattr(self.report, target, number)
        return True

    def _legacy_value(self, attribute: str, name: str, value: float, percent: Optional[str]) -> None:
        stats = getattr(self.report, attribute)
        if stats is None:
            stats = LatencyStats()
            setattr(self.report, attribute, stats)
        if name == "percentile":
            stats.percentiles[float(percent or 99)] = value
        else:
            setattr(stats, name, value)

    def _facts(self, body: str) -> None:
        report = self.report
        words = body.split()
        if body.startswith("Timing trace has") and len(words) > 3:
            report.query_count = int(words[3])
            return
        if body.startswith("Engine built in") and len(words) > 3:
            report.engine_build_s = _float(words[3])
            return
        label, sep, value = body.partition(":")
        if not sep:
            return
        value = value.strip()
        if label == "TensorRT version":
            version = TrtVersion.parse(value)
            report.trt_version = str(version) if version else value
        elif label == "Selected Device":
            report.device = value
        elif label == "Compute Capability":
            report.compute_capability = value
        elif label == "Throughput":
            report.throughput_qps = _leading_number(value) or report.throughput_qps
        elif label == "Total Host Walltime":
            report.total_host_walltime_s = _leading_number(value) or report.total_host_walltime_s
        elif label == "Total GPU Compute Time":
            report.total_gpu_compute_time_s = _leading_number(value) or report.total_gpu_compute_time_s
        elif label == "Data transfers":
            self.declared_transfers = _enabled(value)
        elif label == "CUDA Graph":
            report.cuda_graph = _enabled(value)
        elif label == "Spin-wait":
            report.spin_wait = _enabled(value)

    def finish(self) -> TrtexecReport:
        report = self.report
        report.data_transfers_included = self._transfers()
        return report

    def _transfers(self) -> Optional[bool]:
        """Declared option line, then the command line, then the H2D/D2H numbers, then defaults."""
        if self.declared_transfers is not None:
            return self.declared_transfers
        report = self.report
        argv = (report.command_line or "").split()
        if "--noDataTransfers" in argv:
            return False
        if "--includeDataTransfers" in argv:
            return True
        copies = [s for s in (report.h2d_latency, report.d2h_latency) if s is not None and s.max is not None]
        if copies:
            return any((s.max or 0.0) > 0.0 for s in copies)
        version = report.version
        if version is not None and report.has_summary:
            return not version.at_least(11)
        return None


def parse_trtexec_log(text: str) -> TrtexecReport:
    """Parse a whole trtexec log (or a pasted excerpt of it)."""
    parser = _Parser()
    for raw in text.splitlines():
        parser.feed(raw)
    return parser.finish()
