"""Typed job results for tests of the console's job views, built the way the device builds them."""

from __future__ import annotations

import numpy as np

from device_runtime.protocol import (
    AccuracyReport,
    BenchmarkResult,
    ConcurrencyPoint,
    JobInfo,
    LatencySummary,
    OutputError,
    RunConditions,
)


def summary(samples: list[float]) -> LatencySummary:
    data = np.asarray(samples, dtype=float)
    mean = float(data.mean())
    cov = float(data.std() / mean)
    return LatencySummary(len(samples), float(data.min()), mean, float(np.median(data)),
                          float(np.percentile(data, 90)), float(np.percentile(data, 95)),
                          float(np.percentile(data, 99)), float(data.max()), cov, cov > 0.025)


def benchmark_result(label: str, median: float = 2.0, spread: float = 0.02, throttled: bool = False,
                     power_mode: str | None = "MAXN", seed: int = 1, precision: str = "fp32") -> BenchmarkResult:
    rng = np.random.default_rng(seed)
    samples = [float(v) for v in rng.normal(median, median * spread, 400)]
    reasons = ["the device throttled during the run (thermal)"] if throttled else []
    return BenchmarkResult(
        model="/models/det.%s.onnx" % precision, backend="ort", latency=summary(samples),
        throughput_qps=1000.0 / median, duration_s=5.0, provider="CPUExecutionProvider", label=label,
        precision=precision, shapes={"image": [1, 3, 64, 64]}, samples_ms=samples, model_bytes=2_000_000,
        session_memory_mb=12.0, peak_rss_mb=80.0,
        conditions=RunConditions(power_mode=power_mode, clocks_locked=True, temperatures_c={"cpu": 51.0},
                                 throttled=throttled, throttle_reasons=["thermal"] if throttled else []),
        comparable=not throttled, not_comparable=reasons,
        sweep=[ConcurrencyPoint(1, 1000.0 / median, median, median * 1.2),
               ConcurrencyPoint(2, 1800.0 / median, median * 1.1, median * 1.5)],
        started=1_700_000_000.0,
    )


def accuracy_report(passed: bool = True) -> AccuracyReport:
    return AccuracyReport("/models/det.int8.onnx", "/models/det.onnx", 16, 0.05, 0.05, passed, "int8",
                          [OutputError("logits", 0.01 if passed else 0.4, 0.02, 0.004, 0.99991, passed)])


def finished_job(job_id: str, kind: str, result: object, label: str = "", created: float = 100.0) -> JobInfo:
    wire = result.to_wire()  # type: ignore[attr-defined]
    return JobInfo(id=job_id, kind=kind, state="succeeded", spec={}, label=label, progress=1.0, stage="done",
                   created=created, started=created + 1, finished=created + 6, result=wire)
