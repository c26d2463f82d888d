"""One sentence at the end of an Optimize pipeline: how much faster, and whether it is accurate."""

from __future__ import annotations

from collections.abc import Sequence

from console.core.jobs.tracker import job_title, typed_result
from device_runtime.protocol import AccuracyReport, BenchmarkResult, JobInfo, ProtocolError, Record


def _result(job: JobInfo) -> Record | None:
    try:
        return typed_result(job)
    except ProtocolError:
        return None


def pipeline_summary(jobs: Sequence[JobInfo]) -> str:
    """``Done. fp16 on ONNX Runtime: p50 1.10 ms against 2.05 ms for FP32 (1.86x faster). Accuracy passed ...``"""
    stopped = next((j for j in jobs if j.state != "succeeded"), None)
    if stopped is not None:
        if stopped.state == "cancelled":
            return "Cancelled at %s. Nothing after it ran." % job_title(stopped)
        return "%s %s: %s" % (job_title(stopped).capitalize(), stopped.state, stopped.error or "no reason given")
    benches = [r for r in (_result(j) for j in jobs if j.kind == "benchmark") if isinstance(r, BenchmarkResult)]
    parts = ["Done."]
    if benches:
        last = benches[-1]
        text = "%s: p50 %.2f ms, p99 %.2f ms, %.1f inferences/s" % (
            last.label or last.model, last.latency.median, last.latency.p99, last.throughput_qps)
        if len(benches) > 1 and last.latency.median > 0:
            base = benches[0].latency.median
            speedup = base / last.latency.median
            if speedup >= 1.02:
                verdict = "%.2fx faster" % speedup
            elif speedup <= 0.98:
                verdict = "%.2fx slower" % (1 / speedup)
            else:
                verdict = "about the same speed"
            text += " (FP32 baseline p50 %.2f ms: %s)" % (base, verdict)
        parts.append(text + ".")
    for report in (r for r in (_result(j) for j in jobs if j.kind == "accuracy") if isinstance(r, AccuracyReport)):
        worst = min((o.cosine for o in report.outputs), default=1.0)
        parts.append("Accuracy %s against the FP32 reference (atol %g, rtol %g, lowest cosine %.5f)." % (
            "passed" if report.passed else "FAILED", report.atol, report.rtol, worst))
    return " ".join(parts)
