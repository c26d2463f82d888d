"""benchmark: latency and throughput of a model on ONNX Runtime, or of an engine with trtexec.

ONNX Runtime runs with the named execution provider or the best one the device has (TensorRT,
then CUDA, then CPU). Dynamic inputs need explicit shapes; the error names each dynamic input
and its symbolic dimensions. After the warm-up the loop runs for ``seconds`` and at least
``iterations`` calls; latency is end-to-end host time per ``session.run`` (inputs from host
memory, outputs back to host). A concurrency sweep then runs 1..N threads on the same session
for ``seconds`` each and reports throughput against p50 and p99, which says how many camera
streams fit a latency budget. Memory: model size on disk, the process's RSS growth while the
session was created (host memory the session holds) and the peak RSS of the run.
"""

from __future__ import annotations

import functools
import os
import resource
import threading
import time
from typing import Any, Dict, List, Optional

from device_runtime.jobs.kinds.base import JobFailed, JobKind, JobRefused, WorkerContext
from device_runtime.jobs.kinds.onnx_io import (
    best_providers,
    integer_ranges,
    open_session,
    random_inputs,
    require_file,
    resolve_shapes,
    session_inputs,
)
from device_runtime.jobs.kinds.timing import keep_samples, summarize, timed_runs
from device_runtime.protocol import BenchmarkResult, BenchmarkSpec, Capabilities, ConcurrencyPoint, Record

MAX_STREAMS = 64
_MB = 1024.0 * 1024.0


def _rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / _MB


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def sweep_point(run: Any, streams: int, seconds: float) -> ConcurrencyPoint:
    """``streams`` threads calling ``run`` for ``seconds``; throughput over the wall time."""
    per_thread: List[List[float]] = [[] for _ in range(streams)]
    barrier = threading.Barrier(streams + 1)
    deadline: List[float] = [0.0]

    def loop(out: List[float]) -> None:
        barrier.wait()
        clock = time.perf_counter
        while True:
            t0 = clock()
            run()
            t1 = clock()
            out.append((t1 - t0) * 1000.0)
            if t1 >= deadline[0]:
                return

    threads = [threading.Thread(target=loop, args=(out,), daemon=True) for out in per_thread]
    for thread in threads:
        thread.start()
    start = time.perf_counter()
    deadline[0] = start + seconds
    barrier.wait()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    samples = [value for out in per_thread for value in out]
    summary = summarize(samples)
    return ConcurrencyPoint(streams, len(samples) / wall, summary.median, summary.p99)


class BenchmarkKind(JobKind):
    name = "benchmark"
    gpu = True
    spec_type = BenchmarkSpec

    def check(self, spec: Any, capabilities: Capabilities) -> None:
        assert isinstance(spec, BenchmarkSpec)
        if spec.backend not in ("ort", "trt"):
            raise JobRefused("unknown backend %r: use ort (ONNX Runtime) or trt (TensorRT)" % spec.backend)
        if spec.seconds <= 0 or spec.warmup_s < 0 or spec.iterations < 0:
            raise JobRefused("seconds must be positive, warm-up and iterations not negative")
        if any(n < 1 or n > MAX_STREAMS for n in spec.concurrency):
            raise JobRefused("concurrency levels must be 1 to %d streams" % MAX_STREAMS)
        if spec.threads is not None and spec.threads < 1:
            raise JobRefused("threads must be at least 1")
        if spec.backend == "trt":
            if not capabilities.tensorrt:
                raise JobRefused("this device has no TensorRT, so engines cannot be benchmarked here; benchmark "
                                 "the ONNX model with the ort backend")
            if spec.concurrency:
                raise JobRefused("the concurrency sweep runs on the ort backend; drop it for a TensorRT engine")

    def run(self, spec: Any, ctx: WorkerContext) -> Record:
        assert isinstance(spec, BenchmarkSpec)
        if spec.backend == "trt":
            from device_runtime.jobs.kinds.benchmark_trt import run_trtexec_benchmark

            return run_trtexec_benchmark(spec, ctx)
        return run_ort_benchmark(spec, ctx)


def package_sample(model: str, shapes_given: bool, ctx: WorkerContext) -> Optional[str]:
    """The package's warm-up sample when the model is a package's ONNX and no shapes were given."""
    from device_runtime.jobs.kinds.package_inputs import package_inputs

    recorded = None if shapes_given else package_inputs(model)
    if recorded is None or recorded.sample is None:
        return None
    ctx.log("no data or shapes given: using the sample of package %s" % recorded.package)
    return recorded.sample


def run_ort_benchmark(spec: BenchmarkSpec, ctx: WorkerContext) -> BenchmarkResult:
    from device_runtime.jobs.kinds.validate import model_precision

    require_file(spec.model)
    ctx.progress(0.0, "loading the model", force=True)
    providers = best_providers(spec.provider)
    before = _rss_mb()
    session = open_session(spec.model, providers, spec.threads)
    session_mb = max(_rss_mb() - before, 0.0)
    inputs = session_inputs(session)
    data = spec.data or package_sample(spec.model, bool(spec.shapes), ctx)
    if data:
        from device_runtime.jobs.kinds.calibration import load_samples

        feeds = load_samples(data, inputs, {}, 1)[0]
        shapes = {name: tuple(int(d) for d in feeds[name].shape) for name, _, _ in inputs}
        ctx.log("inputs from %s (its first sample)" % data)
    else:
        shapes = resolve_shapes([(name, dims) for name, dims, _ in inputs], spec.shapes)
        feeds = random_inputs([(name, dtype) for name, _, dtype in inputs], shapes,
                              ranges=integer_ranges(spec.model))
    run = functools.partial(session.run, None, feeds)
    try:
        run()
    except Exception as exc:
        raise JobFailed("ONNX Runtime refused these inputs (%s): %s" % (
            ", ".join("%s %s" % (n, "x".join(map(str, s))) for n, s in shapes.items()), str(exc).strip()[:400]
        )) from None
    provider = session.get_providers()[0]
    ctx.log("provider %s, inputs %s" % (provider, {n: list(s) for n, s in shapes.items()}))
    points = len(spec.concurrency)
    planned = spec.warmup_s + spec.seconds * (1 + points)

    def tick(elapsed: float, count: int) -> None:
        ctx.progress((spec.warmup_s + elapsed) / planned, "measuring: %d runs" % count)

    ctx.progress(0.0, "warming up", force=True)
    started = time.time()
    t0 = time.perf_counter()
    samples = timed_runs(run, spec.warmup_s, spec.seconds, spec.iterations, tick)
    measured = time.perf_counter() - t0 - spec.warmup_s
    latency = summarize(samples)
    ctx.log("p50 %.3f ms, p99 %.3f ms over %d runs" % (latency.median, latency.p99, latency.count))
    sweep: List[ConcurrencyPoint] = []
    for index, streams in enumerate(spec.concurrency):
        ctx.progress((spec.warmup_s + spec.seconds * (1 + index)) / planned, "sweep: %d streams" % streams, True)
        point = sweep_point(run, streams, spec.seconds)
        ctx.log("%d streams: %.1f qps, p99 %.3f ms" % (streams, point.throughput_qps, point.p99_ms))
        sweep.append(point)
    return BenchmarkResult(
        model=spec.model,
        backend="ort",
        provider=provider,
        latency=latency,
        throughput_qps=len(samples) / measured if measured > 0 else 0.0,
        duration_s=measured,
        label=spec.label,
        precision=model_precision(spec.model),
        shapes={name: list(shape) for name, shape in shapes.items()},
        samples_ms=keep_samples(samples),
        model_bytes=os.path.getsize(spec.model),
        session_memory_mb=session_mb,
        peak_rss_mb=_peak_rss_mb(),
        sweep=sweep,
        started=started,
    )


def shapes_text(shapes: Dict[str, List[int]]) -> str:
    return ",".join("%s:%s" % (name, "x".join(str(d) for d in dims)) for name, dims in shapes.items())
