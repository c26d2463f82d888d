"""Cost of ``LatencyReporter.record`` to the robot's process, with a real daemon listening and
with none, against an in-run baseline: the same inference loop without any reporting.

Targets (issue: live latency): at most 20 microseconds per call at p99 on this machine, and zero
effect on the caller when the daemon is absent.

    python bench/latency_report_cost.py [--calls 20000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench._util import percentile, verdict
from device_runtime.report import LatencyReporter
from device_runtime.server.bridge import start_daemon

WORK_S = 200e-6  # a stand-in inference: 200 us of busy work between reports (5 kHz)


def busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def loop(calls: int, reporter: LatencyReporter | None) -> tuple[list[float], float]:
    """Per-call cost of record() in seconds, and the loop's total wall time."""
    costs = []
    start = time.perf_counter()
    for _ in range(calls):
        t0 = time.perf_counter()
        busy(WORK_S)
        t1 = time.perf_counter()
        if reporter is not None:
            reporter.record(t1 - t0, preprocess=1e-5, infer=t1 - t0, postprocess=1e-5)
            costs.append(time.perf_counter() - t1)
    return costs, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="eoc-bench-"))
    sock = tmp / "rt" / "edge-runtime.sock"
    try:
        _, base_wall = loop(args.calls, None)

        absent = LatencyReporter("bench", socket_path=str(tmp / "absent" / "latency.sock"))
        absent_costs, absent_wall = loop(args.calls, absent)

        start_daemon(str(sock), str(tmp / "root"), [])
        present = LatencyReporter("bench", socket_path=str(sock.parent / "latency.sock"))
        present_costs, present_wall = loop(args.calls, present)
        present.close()
        absent.close()

        p99_present = percentile(present_costs, 99) * 1e6
        p99_absent = percentile(absent_costs, 99) * 1e6
        print("calls per case: %d, stand-in inference %.0f us" % (args.calls, WORK_S * 1e6))
        print("daemon listening: record() p50 %.1f us  p99 %.1f us  max %.1f us  (sent %d, dropped %d)" % (
            percentile(present_costs, 50) * 1e6, p99_present, max(present_costs) * 1e6, present.sent, present.dropped))
        print("no daemon:        record() p50 %.1f us  p99 %.1f us  max %.1f us  (dropped %d, raised 0)" % (
            percentile(absent_costs, 50) * 1e6, p99_absent, max(absent_costs) * 1e6, absent.dropped))
        print("loop wall time vs no reporting: listening %.3fx, no daemon %.3fx" % (
            present_wall / base_wall, absent_wall / base_wall))
        print("p99 <= 20 us with the daemon listening: %s" % verdict(p99_present <= 20.0))
        print("p99 <= 20 us with no daemon:            %s" % verdict(p99_absent <= 20.0))
        return 0
    finally:
        subprocess.run([sys.executable, "-m", "device_runtime", "stop", "--socket", str(sock)],
                       capture_output=True, check=False)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
