"""INT8 QDQ quantization of the demo model, end to end through the product's job kinds:
quantize (symmetric INT8 QDQ, per-channel, minmax calibration on 64 samples), accuracy against
the FP32 model with the INT8 default tolerances (see device_runtime/jobs/kinds/accuracy.py:
atol 0.1, rtol 0.1, per element), and the benchmark of both on ONNX Runtime CPU with the same
threads, reporting INT8/FP32 p50 and the speed ratio. Both benchmarks run in this same run.

Targets (issue 6): the accuracy job passes; the speed ratio is reported (no threshold).

    python bench/int8_demo.py [--seconds 5] [--threads 1] [--batch 1]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench._util import verdict
from device_runtime import protocol as p
from device_runtime.capabilities import probe
from device_runtime.demo_model import write_demo_model
from device_runtime.jobs.messages import Reporter, decode_line
from device_runtime.jobs.worker import run


def run_job(kind: str, spec: dict[str, Any], root: str) -> p.Record:
    """Run a job kind in this process exactly as a worker would; return its result record."""
    out = io.BytesIO()
    request = {"job_id": "bench", "kind": kind, "spec": spec,
               "context": {"root": root, "capabilities": probe().to_wire()}}
    code = run(request, Reporter(out))
    messages = [m for m in (decode_line(line) for line in out.getvalue().splitlines()) if m]
    if code != 0 or messages[-1]["t"] != "result":
        raise SystemExit("%s job failed: %s" % (kind, json.dumps(messages[-1])))
    return p.JOB_RESULTS[kind].from_wire(messages[-1]["result"])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = write_demo_model(os.path.join(tmp, "demo.onnx"))
        int8 = os.path.join(tmp, "demo_int8.onnx")
        calib = os.path.join(tmp, "calib.npy")
        np.save(calib, np.random.default_rng(11).random((64, 3, 64, 64), dtype=np.float32))
        quant = run_job("quantize", {"model": fp32, "output": int8, "precision": "int8", "calibration": calib}, tmp)
        assert isinstance(quant, p.QuantizeResult)
        print("quantize: %d -> %d bytes, %d quantized nodes, %d calibration samples"
              % (quant.source_size_bytes, quant.size_bytes, quant.quantized_nodes, quant.calibration_samples))
        shapes = {"image": [args.batch, 3, 64, 64]}
        acc = run_job("accuracy", {"candidate": int8, "reference": fp32, "shapes": shapes, "samples": 64}, tmp)
        assert isinstance(acc, p.AccuracyReport)
        for out in acc.outputs:
            print("accuracy %s: max abs %.4g, max rel %.4g, mean abs %.4g, cosine %.6f (atol %g, rtol %g) %s"
                  % (out.name, out.max_abs, out.max_rel, out.mean_abs, out.cosine, acc.atol, acc.rtol,
                     verdict(out.passed)))
        results = {}
        for name, model in (("fp32", fp32), ("int8", int8)):
            spec = {"model": model, "shapes": shapes, "seconds": args.seconds, "warmup_s": 1.0,
                    "threads": args.threads, "provider": "CPUExecutionProvider"}
            bench = run_job("benchmark", spec, tmp)
            assert isinstance(bench, p.BenchmarkResult)
            results[name] = bench
            print("%s: p50 %.4f ms, p99 %.4f ms, %.0f qps, CoV %.1f%%, peak RSS %.0f MB"
                  % (name, bench.latency.median, bench.latency.p99, bench.throughput_qps, bench.latency.cov * 100,
                     bench.peak_rss_mb or 0))
    speed = results["fp32"].latency.median / results["int8"].latency.median
    print("INT8 speed vs FP32 on ORT CPU (p50 fp32 / p50 int8): %.3fx" % speed)
    print("accuracy job with INT8 default tolerances: %s" % verdict(acc.passed))
    return 0 if acc.passed else 1


if __name__ == "__main__":
    sys.exit(main())
