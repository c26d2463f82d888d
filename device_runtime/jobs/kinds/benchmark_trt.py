"""The TensorRT side of the benchmark job: trtexec on a saved engine.

Numbers come from the ``--exportTimes`` trace (per-query latency and GPU compute time, with
trtexec's percentile rule); the text summary is the fallback when no trace was written.
GPU compute time is reported separately from end-to-end host latency.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from typing import List, Optional

from device_runtime.engines.latency_stats import LatencyStats
from device_runtime.engines.trt_version import TrtVersion
from device_runtime.engines.trtexec_cmd import BenchRequest, bench_command
from device_runtime.engines.trtexec_parse import parse_export_times, parse_trtexec_log
from device_runtime.jobs.kinds.base import JobFailed, WorkerContext
from device_runtime.jobs.kinds.benchmark import shapes_text
from device_runtime.jobs.kinds.onnx_io import require_file
from device_runtime.jobs.kinds.timing import keep_samples
from device_runtime.jobs.kinds.trtexec_run import find_trtexec, run_streaming
from device_runtime.protocol import BenchmarkResult, BenchmarkSpec, LatencySummary


def _from_stats(stats: LatencyStats) -> LatencySummary:
    cov = (stats.cov_percent or 0.0) / 100.0
    return LatencySummary(
        count=stats.count or 0,
        min=stats.min or 0.0,
        mean=stats.mean or 0.0,
        median=stats.median or 0.0,
        p90=stats.percentile(90) or 0.0,
        p95=stats.percentile(95) or 0.0,
        p99=stats.percentile(99) or 0.0,
        max=stats.max or 0.0,
        cov=cov,
        unstable=cov > 0.025,
    )


def run_trtexec_benchmark(spec: BenchmarkSpec, ctx: WorkerContext) -> BenchmarkResult:
    require_file(spec.model, "engine")
    version = TrtVersion.parse(ctx.capabilities.tensorrt or "")
    if version is None:
        raise JobFailed("cannot read this device's TensorRT version %r" % ctx.capabilities.tensorrt)
    trtexec = find_trtexec(ctx.env)
    lines: List[str] = []
    with tempfile.TemporaryDirectory(prefix="edge-bench-") as scratch:
        times_path = os.path.join(scratch, "times.json")
        request = BenchRequest(
            engine_path=spec.model,
            shapes=shapes_text(spec.shapes) or None,
            export_times_path=times_path,
            warmup_ms=int(spec.warmup_s * 1000),
            duration_s=max(1, math.ceil(spec.seconds)),
            iterations=max(spec.iterations, 10),
        )
        argv = bench_command(request, version, trtexec)
        ctx.log("$ " + " ".join(argv))
        planned = spec.warmup_s + spec.seconds
        t0 = time.monotonic()
        started = time.time()

        def on_line(line: str) -> None:
            lines.append(line)
            ctx.log(line)
            ctx.progress(min((time.monotonic() - t0) / planned, 0.99), "trtexec")

        code = run_streaming(argv, on_line, ctx.env)
        report = parse_trtexec_log("\n".join(lines))
        if code != 0 or report.passed is False:
            detail = "; ".join(report.errors[-3:]) or "exit code %d" % code
            raise JobFailed("trtexec could not benchmark %s: %s. See the job log." % (spec.model, detail))
        trace = None
        latencies: List[float] = []
        if os.path.exists(times_path):
            with open(times_path) as handle:
                rows = json.load(handle)
            try:
                trace = parse_export_times(rows)
                latencies = [float(row["latencyMs"]) for row in rows]
            except ValueError as exc:
                ctx.log("the --exportTimes trace is unusable (%s); using the text summary" % exc)
    if trace is not None:
        latency = _from_stats(trace.latency)
        gpu: Optional[LatencySummary] = _from_stats(trace.gpu_compute_time)
        throughput = trace.throughput_qps or report.throughput_qps or 0.0
    elif report.latency is not None:
        latency = _from_stats(report.latency)
        gpu = _from_stats(report.gpu_compute_time) if report.gpu_compute_time else None
        throughput = report.throughput_qps or 0.0
    else:
        raise JobFailed("trtexec printed no performance summary for %s; see the job log" % spec.model)
    return BenchmarkResult(
        model=spec.model,
        backend="trt",
        provider="trtexec %s" % version,
        latency=latency,
        gpu_compute=gpu,
        throughput_qps=throughput,
        duration_s=report.total_host_walltime_s or spec.seconds,
        label=spec.label,
        shapes=dict(spec.shapes),
        samples_ms=keep_samples(latencies),
        model_bytes=os.path.getsize(spec.model),
        started=started,
    )

