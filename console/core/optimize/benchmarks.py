"""Benchmark results kept for comparison: side-by-side rows, histogram and CDF data, CSV.

Results come from finished benchmark jobs. The book keeps them beyond the daemon's job list
window and, when given a file, across console sessions (one JSON object a line). A damaged
line is reported and left in place, never dropped from the file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from device_runtime.protocol import BenchmarkResult, LatencySummary, ProtocolError


@dataclass(frozen=True)
class BenchmarkEntry:
    job_id: str
    device: str
    result: BenchmarkResult
    finished: float = 0.0

    @property
    def title(self) -> str:
        """What a person calls this run: its label, else model, backend and precision."""
        r = self.result
        if r.label:
            return r.label
        name = Path(r.model).name
        parts = [name, backend_name(r)]
        if r.precision:
            parts.append(r.precision)
        return " · ".join(parts)


def backend_name(result: BenchmarkResult) -> str:
    if result.provider:
        return "%s (%s)" % (result.backend, result.provider.replace("ExecutionProvider", ""))
    return result.backend


class BenchmarkBook:
    """Every benchmark result seen, newest last; thread-safe."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.problems: list[str] = []
        self._entries: dict[str, BenchmarkEntry] = {}
        self._lock = threading.Lock()
        if path is not None and path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                entry = BenchmarkEntry(str(data["job"]), str(data["device"]),
                                       BenchmarkResult.from_wire(data["result"]), float(data.get("finished", 0.0)))
            except (ValueError, KeyError, TypeError, ProtocolError) as exc:
                self.problems.append("%s line %d is not a benchmark result (%s); it was left in the file"
                                     % (path, number, exc))
                continue
            self._entries[entry.job_id] = entry

    def add(self, entry: BenchmarkEntry) -> bool:
        """Keep ``entry``; False when it was already kept."""
        with self._lock:
            if entry.job_id in self._entries:
                return False
            self._entries[entry.job_id] = entry
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            line = json.dumps({"job": entry.job_id, "device": entry.device, "finished": entry.finished,
                               "result": entry.result.to_wire()}, ensure_ascii=False)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        return True

    def entries(self) -> list[BenchmarkEntry]:
        with self._lock:
            return sorted(self._entries.values(), key=lambda e: (e.finished, e.job_id))

    def get(self, job_id: str) -> BenchmarkEntry | None:
        with self._lock:
            return self._entries.get(job_id)


# -- comparison --------------------------------------------------------------------------------

@dataclass(frozen=True)
class CompareRow:
    label: str
    unit: str
    values: list[float | None]
    lower_is_better: bool = True

    def ratios(self) -> list[float | None]:
        """Each value over the first (the baseline); None where either is missing."""
        base = self.values[0] if self.values else None
        return [None if v is None or not base else v / base for v in self.values]


def _latency_rows(prefix: str, summaries: Sequence[LatencySummary | None]) -> list[CompareRow]:
    fields = (("median", "p50"), ("p90", "p90"), ("p95", "p95"), ("p99", "p99"), ("mean", "mean"),
              ("min", "min"), ("max", "max"))
    rows = [CompareRow("%s %s" % (prefix, label), "ms", [None if s is None else getattr(s, attr) for s in summaries])
            for attr, label in fields]
    rows.append(CompareRow("%s CoV" % prefix, "%", [None if s is None else s.cov * 100 for s in summaries]))
    return rows


def compare(entries: Sequence[BenchmarkEntry]) -> list[CompareRow]:
    """Side-by-side rows for the chosen results; the first one is the baseline of the ratios."""
    results = [e.result for e in entries]
    rows = _latency_rows("latency", [r.latency for r in results])
    if any(r.gpu_compute is not None for r in results):
        rows += _latency_rows("GPU compute", [r.gpu_compute for r in results])
    rows.append(CompareRow("throughput", "inf/s", [r.throughput_qps for r in results], lower_is_better=False))
    if any(r.energy_mj_per_inference is not None for r in results):
        rows.append(CompareRow("mean power", "W", [r.mean_power_w for r in results]))
        rows.append(CompareRow("energy per inference", "mJ", [r.energy_mj_per_inference for r in results]))
    rows.append(CompareRow("model size", "MB", [r.model_bytes / 1e6 if r.model_bytes else None for r in results]))
    rows.append(CompareRow("session memory", "MB", [r.session_memory_mb for r in results]))
    rows.append(CompareRow("peak RSS", "MB", [r.peak_rss_mb for r in results]))
    return rows


def comparison_warnings(entries: Sequence[BenchmarkEntry]) -> list[str]:
    """Why the chosen results should not be compared number for number, in words."""
    out: list[str] = []
    for entry in entries:
        for reason in not_comparable_reasons(entry.result):
            out.append("%s: %s" % (entry.title, reason))
    modes = {e.result.conditions.power_mode for e in entries if e.result.conditions.power_mode}
    if len(modes) > 1:
        out.append("measured at different power modes (%s)" % ", ".join(sorted(modes)))
    devices = {e.device for e in entries}
    if len(devices) > 1:
        out.append("measured on different devices (%s)" % ", ".join(sorted(devices)))
    shapes = {json.dumps(e.result.shapes, sort_keys=True) for e in entries}
    if len(shapes) > 1:
        out.append("input shapes differ")
    return out


def not_comparable_reasons(result: BenchmarkResult) -> list[str]:
    """The result's own reasons, or ones derived from its run conditions."""
    reasons = list(result.not_comparable)
    if not reasons and not result.comparable:
        reasons.append("the device marked this run as not comparable")
    cond = result.conditions
    if cond.throttled and not any("thrott" in r for r in reasons):
        why = ", ".join(cond.throttle_reasons) or "reason unknown"
        reasons.append("the device throttled during the run (%s)" % why)
    if cond.clocks_locked is False and not any("clock" in r for r in reasons):
        reasons.append("clocks were not locked")
    if result.latency.unstable and not any("unstable" in r for r in reasons):
        reasons.append("unstable: CoV %.1f %% is above 2.5 %%" % (result.latency.cov * 100))
    return reasons


# -- distributions -----------------------------------------------------------------------------

def histogram(samples_ms: Sequence[float], bins: int = 40,
              span: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(bin edges, fraction of samples per bin); fractions so runs of different length overlay."""
    data = np.asarray(samples_ms, dtype=float)
    if data.size == 0:
        return np.zeros(0), np.zeros(0)
    low, high = span if span is not None else (float(data.min()), float(data.max()))
    if high <= low:
        high = low + max(abs(low) * 1e-3, 1e-6)
    counts, edges = np.histogram(data, bins=bins, range=(low, high))
    return edges, counts / data.size


def cdf(samples_ms: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """(sorted latencies, cumulative fraction in (0, 1])."""
    data = np.sort(np.asarray(samples_ms, dtype=float))
    return data, np.arange(1, data.size + 1) / max(data.size, 1)


def common_span(entries: Iterable[BenchmarkEntry], upper_pct: float = 99.5) -> tuple[float, float] | None:
    """The latency range that holds every chosen run's bulk: from the lowest minimum to the highest
    ``upper_pct`` percentile, so one 30 ms hiccup does not squeeze a 2 ms distribution into one bin."""
    lows, highs = [], []
    for entry in entries:
        if entry.result.samples_ms:
            data = np.asarray(entry.result.samples_ms, dtype=float)
            lows.append(float(data.min()))
            highs.append(float(np.percentile(data, upper_pct)))
    return (min(lows), max(highs)) if lows else None


# -- CSV ---------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "job", "device", "label", "model", "backend", "provider", "precision", "shapes", "started_utc",
    "duration_s", "count", "min_ms", "mean_ms", "median_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "cov_pct",
    "unstable", "throughput_qps", "gpu_median_ms", "gpu_p99_ms", "model_bytes", "session_memory_mb",
    "peak_rss_mb", "power_mode", "clocks_locked", "throttled", "comparable", "not_comparable",
    "mean_power_w", "energy_mj_per_inference", "power_source",
)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "" if not math.isfinite(value) else "%.6g" % value
    return str(value)


def csv_row(entry: BenchmarkEntry) -> list[str]:
    r = entry.result
    lat, gpu, cond = r.latency, r.gpu_compute, r.conditions
    started = datetime.fromtimestamp(r.started, timezone.utc).isoformat(timespec="seconds") if r.started else None
    shapes = ";".join("%s=%s" % (k, "x".join(str(d) for d in v)) for k, v in sorted(r.shapes.items()))
    values: list[object] = [
        entry.job_id, entry.device, r.label, r.model, r.backend, r.provider, r.precision, shapes, started,
        r.duration_s, lat.count, lat.min, lat.mean, lat.median, lat.p90, lat.p95, lat.p99, lat.max, lat.cov * 100,
        lat.unstable, r.throughput_qps, gpu.median if gpu else None, gpu.p99 if gpu else None, r.model_bytes,
        r.session_memory_mb, r.peak_rss_mb, cond.power_mode, cond.clocks_locked, cond.throttled,
        r.comparable and not not_comparable_reasons(r), "; ".join(not_comparable_reasons(r)),
        r.mean_power_w, r.energy_mj_per_inference, r.power_source,
    ]
    return [_cell(v) for v in values]


def to_csv(entries: Sequence[BenchmarkEntry]) -> str:
    """Results as CSV text: one header row, one row per result, latencies in milliseconds."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        writer.writerow(csv_row(entry))
    return buffer.getvalue()


def write_csv(path: Path, entries: Sequence[BenchmarkEntry]) -> None:
    """Write through a temporary file so a failed export never leaves half a file behind."""
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(to_csv(entries), encoding="utf-8")
    tmp.replace(path)
