"""Benchmark harness overhead: the product's ONNX Runtime benchmark loop (``timed_runs`` +
``summarize``, what the benchmark job runs) against a bare ``session.run`` loop, on the same
session, inputs and thread settings, in the same run. Rounds alternate (bare, product, ...) so
drift of a shared machine hits both; the figure is the median over rounds of p50 ratios.

Target (issue 6): the product's p50 within 3 % of the bare loop's.

    python bench/ort_harness_overhead.py [--rounds 8] [--seconds 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench._util import percentile, verdict
from device_runtime.demo_model import write_demo_model
from device_runtime.jobs.kinds.onnx_io import open_session, random_inputs, session_inputs
from device_runtime.jobs.kinds.timing import summarize, timed_runs


def bare_loop(session, feeds, seconds: float) -> list[float]:  # type: ignore[no-untyped-def]
    samples = []
    clock = time.perf_counter
    end = clock() + seconds
    while True:
        t0 = clock()
        session.run(None, feeds)
        t1 = clock()
        samples.append((t1 - t0) * 1000.0)
        if t1 >= end:
            return samples


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = write_demo_model(os.path.join(tmp, "demo.onnx"))
        session = open_session(model, ["CPUExecutionProvider"], args.threads)
        inputs = session_inputs(session)
        feeds = random_inputs([(n, d) for n, _, d in inputs], {"image": (1, 3, 64, 64)})
        run = functools.partial(session.run, None, feeds)
        bare_loop(session, feeds, 1.0)  # warm-up for both
        ratios, bare_all, product_all = [], [], []
        for _ in range(args.rounds):
            bare = bare_loop(session, feeds, args.seconds)
            product = timed_runs(run, 0.0, args.seconds, 1, on_tick=lambda elapsed, count: None)
            bare_p50 = percentile(bare, 50)
            product_p50 = summarize(product).median
            ratios.append(product_p50 / bare_p50)
            bare_all += bare
            product_all += product
            print("round: bare p50 %.4f ms (n=%d), product p50 %.4f ms (n=%d), ratio %.4f"
                  % (bare_p50, len(bare), product_p50, len(product), ratios[-1]))
    ratio = statistics.median(ratios)
    print("pooled: bare p50 %.4f ms, product p50 %.4f ms" % (percentile(bare_all, 50), summarize(product_all).median))
    ok = abs(ratio - 1.0) <= 0.03
    print("product / bare p50 (median of %d rounds): %.4f  (target within 3%%)  %s" % (args.rounds, ratio, verdict(ok)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
