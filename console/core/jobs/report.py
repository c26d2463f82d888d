"""Jobs and their typed results as readable text tables (edgectl prints them; no Qt).

Latencies are milliseconds with two decimals; sizes pick a readable unit; a benchmark that is
not comparable says so next to its numbers, with its reasons.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from console.core.optimize.benchmarks import not_comparable_reasons
from console.core.text_units import duration, size
from device_runtime.protocol import (
    AccuracyReport,
    BenchmarkResult,
    BuildResult,
    JobInfo,
    LatencySummary,
    QuantizeResult,
    Record,
    ValidateReport,
)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    """Columns padded to their widest cell; indexes in ``right`` are right-aligned."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), *(line(r) for r in rows)])


def ms(value: float | None) -> str:
    return "-" if value is None else "%.2f" % value


def _when(t: float | None) -> str:
    return "-" if not t else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


# -- jobs --------------------------------------------------------------------------------------

def jobs_table(jobs: Sequence[JobInfo], now: float) -> str:
    if not jobs:
        return "no jobs yet"
    rows = []
    for job in jobs:
        progress = "%3.0f%%" % (job.progress * 100)
        left = "" if job.eta_s is None or job.state != "running" else "%s left" % duration(job.eta_s)
        stage = " · ".join(p for p in (job.stage, left) if p)
        rows.append([job.id, job.kind, job.state, progress, stage or "-", job.label or "-",
                     "%s ago" % duration(now - job.created) if job.created else "-"])
    return table(["ID", "KIND", "STATE", "DONE", "STAGE", "LABEL", "CREATED"], rows, right=(3,))


def job_details(job: JobInfo) -> str:
    rows = [("job", job.id), ("kind", job.kind), ("state", job.state), ("label", job.label or "-"),
            ("progress", "%.0f%%%s" % (job.progress * 100, " · " + job.stage if job.stage else "")),
            ("created", _when(job.created)), ("started", _when(job.started)), ("finished", _when(job.finished))]
    if job.started and job.finished:
        rows.append(("took", duration(job.finished - job.started)))
    if job.state == "running" and job.eta_s is not None:
        rows.append(("time left", duration(job.eta_s)))
    if job.pipeline:
        rows.append(("pipeline", job.pipeline))
    if job.after:
        rows.append(("after", job.after))
    for key, value in sorted(job.spec.items()):
        if value not in (None, "", [], {}):
            rows.append(("spec.%s" % key, str(value)))
    text = "\n".join("%-16s %s" % row for row in rows)
    if job.error:
        text += "\n\nerror: %s" % job.error
    return text


# -- results -----------------------------------------------------------------------------------

def result_text(record: Record) -> str:
    if isinstance(record, ValidateReport):
        return validate_text(record)
    if isinstance(record, QuantizeResult):
        return quantize_text(record)
    if isinstance(record, BuildResult):
        return build_text(record)
    if isinstance(record, BenchmarkResult):
        return benchmark_text(record)
    if isinstance(record, AccuracyReport):
        return accuracy_text(record)
    return str(record.to_wire())


def _shape(dims: Sequence[object]) -> str:
    return "[%s]" % ", ".join("?" if d is None else str(d) for d in dims)


def validate_text(r: ValidateReport) -> str:
    out = ["%s: %s" % (Path(r.model).name, "valid" if r.ok else "NOT VALID")]
    if r.checker_error:
        out.append("checker: %s" % r.checker_error)
    if r.shape_inference_error:
        out.append("shape inference: %s" % r.shape_inference_error)
    opsets = ", ".join("%s %d" % (d or "ai.onnx", v) for d, v in sorted(r.opsets.items()))
    out.append("size %s · IR %d · opset %s · %s parameters · precision %s%s%s" % (
        size(r.size_bytes), r.ir_version, opsets or "-", f"{r.parameters:,}", r.precision,
        " · external data" if r.external_data else "", " · producer %s" % r.producer if r.producer else ""))
    rows = [["input", t.name, t.dtype, _shape(t.shape)] for t in r.inputs]
    rows += [["output", t.name, t.dtype, _shape(t.shape)] for t in r.outputs]
    out += ["", table(["", "NAME", "TYPE", "SHAPE"], rows)]
    if r.operators:
        ops = sorted(r.operators.items(), key=lambda kv: (-kv[1], kv[0]))
        out += ["", "operators (%d kinds): %s" % (len(ops), ", ".join("%s %d" % kv for kv in ops))]
    if r.backends:
        rows = []
        for b in r.backends:
            if not b.available:
                verdict = "not on this device"
            elif b.unsupported_ops:
                verdict = "unsupported: %s" % ", ".join(b.unsupported_ops)
            else:
                verdict = "all operators supported"
            rows.append([b.backend, verdict + (" (%s)" % b.note if b.note else "")])
        out += ["", table(["BACKEND", "SUPPORT"], rows)]
    out += ["warning: %s" % w for w in r.warnings]
    return "\n".join(out)


def quantize_text(r: QuantizeResult) -> str:
    ratio = r.size_bytes / r.source_size_bytes if r.source_size_bytes else 0.0
    out = ["%s model written to %s" % (r.precision.upper(), r.output),
           "size %s (%.0f%% of %s)" % (size(r.size_bytes), ratio * 100, size(r.source_size_bytes))]
    if r.method:
        out.append("calibration %s on %d samples" % (r.method, r.calibration_samples))
    if r.quantized_nodes:
        out.append("%d nodes quantized" % r.quantized_nodes)
    if r.quantizer:
        name = "NVIDIA ModelOpt" if r.quantizer == "modelopt" else "ONNX Runtime"
        out.append("quantizer %s %s (%s)" % (name, r.quantizer_version, r.quantizer_reason))
    if r.kept_fp32:
        out.append("kept in FP32: %s" % ", ".join(r.kept_fp32))
    out += ["note: %s" % note for note in r.notes]
    if r.proof:
        out.append("checked: %s" % r.proof)
    return "\n".join(out)


def build_text(r: BuildResult) -> str:
    rows = [("engine", r.output), ("size", size(r.engine_bytes)), ("tensorrt", r.tensorrt), ("route", r.route),
            ("precision", ", ".join(r.precision) or "fp32 / as in the model"), ("build time", duration(r.build_s))]
    if r.dla_core is not None:
        rows.append(("dla core", str(r.dla_core)))
    if r.compute_capability:
        rows.append(("compute cap.", r.compute_capability))
    if r.timing_cache:
        rows.append(("timing cache", r.timing_cache))
    out = ["%-13s %s" % row for row in rows]
    out += ["warning: %s" % w for w in r.warnings]
    return "\n".join(out)


def _latency_row(name: str, s: LatencySummary) -> list[str]:
    return [name, str(s.count), ms(s.min), ms(s.mean), ms(s.median), ms(s.p90), ms(s.p95), ms(s.p99), ms(s.max),
            "%.1f%%%s" % (s.cov * 100, " unstable" if s.unstable else "")]


def benchmark_text(r: BenchmarkResult) -> str:
    backend = r.backend + (" (%s)" % r.provider if r.provider else "")
    shapes = ", ".join("%s %s" % (k, "x".join(str(d) for d in v)) for k, v in sorted(r.shapes.items()))
    head = "%s · %s%s%s" % (Path(r.model).name, backend, " · %s" % r.precision if r.precision else "",
                           " · %s" % shapes if shapes else "")
    out = [("%s: %s" % (r.label, head)) if r.label else head]
    reasons = not_comparable_reasons(r)
    if reasons:
        out.append("NOT COMPARABLE: %s" % "; ".join(reasons))
    rows = [_latency_row("end to end", r.latency)]
    if r.gpu_compute is not None:
        rows.append(_latency_row("GPU compute", r.gpu_compute))
    out += ["", table(["LATENCY ms", "N", "MIN", "MEAN", "P50", "P90", "P95", "P99", "MAX", "COV"], rows,
                      right=tuple(range(1, 10))), ""]
    out.append("throughput %.1f inferences/s over %s" % (r.throughput_qps, duration(r.duration_s)))
    if r.energy_mj_per_inference is not None:
        out.append("energy %.3g mJ per inference at a mean %.1f W (%s)" % (
            r.energy_mj_per_inference, r.mean_power_w or 0.0, r.power_source))
    elif r.energy_note:
        out.append("energy: %s" % r.energy_note)
    memory = ["model %s" % size(r.model_bytes) if r.model_bytes else "",
              "session %.0f MB" % r.session_memory_mb if r.session_memory_mb is not None else "",
              "peak RSS %.0f MB" % r.peak_rss_mb if r.peak_rss_mb is not None else ""]
    if any(memory):
        out.append("memory: %s" % ", ".join(m for m in memory if m))
    c = r.conditions
    cond = ["power mode %s" % c.power_mode if c.power_mode else "",
            {True: "clocks locked", False: "clocks not locked", None: ""}[c.clocks_locked],
            "throttled" if c.throttled else "no throttling",
            ", ".join("%s %.0f°C" % kv for kv in sorted(c.temperatures_c.items()))]
    out.append("conditions: %s" % ", ".join(p for p in cond if p))
    if r.sweep:
        rows = [[str(p.streams), "%.1f" % p.throughput_qps, ms(p.p50_ms), ms(p.p99_ms)] for p in r.sweep]
        out += ["", table(["STREAMS", "INF/S", "P50 ms", "P99 ms"], rows, right=(0, 1, 2, 3))]
    return "\n".join(out)


def accuracy_text(r: AccuracyReport) -> str:
    out = ["%s against %s: %s" % (Path(r.candidate).name, Path(r.reference).name, "PASS" if r.passed else "FAIL"),
           "%d samples · %s · atol %g · rtol %g" % (r.samples, r.precision, r.atol, r.rtol), ""]
    rows = [[o.name, "%.3g" % o.max_abs, "%.3g" % o.max_rel, "%.3g" % o.mean_abs, "%.6f" % o.cosine,
             "pass" if o.passed else "FAIL"] for o in r.outputs]
    out.append(table(["OUTPUT", "MAX ABS", "MAX REL", "MEAN ABS", "COSINE", ""], rows, right=(1, 2, 3, 4)))
    return "\n".join(out)
