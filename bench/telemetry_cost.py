"""Telemetry cost: the daemon and bridge sampling every collector at 10 Hz and streaming to one
client, against a bare psutil loop reading the same values at the same rate, in the same run.

Targets (issue: foundation): daemon + bridge <= 1% of one core; <= 1.5x the bare loop's CPU time;
daemon resident memory < 40 MB.

    python bench/telemetry_cost.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time

import psutil

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench._util import verdict
from device_runtime import protocol as p
from device_runtime.server.bridge import start_daemon

BARE_LOOP = r"""
import sys, time, psutil
rate, seconds = float(sys.argv[1]), float(sys.argv[2])
psutil.cpu_percent(percpu=True)
period = 1.0 / rate
start = time.monotonic()
n = 0
while True:
    n += 1
    target = start + n * period
    if target - start > seconds:
        break
    delay = target - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    psutil.cpu_percent(percpu=True)
    psutil.virtual_memory()
    psutil.swap_memory()
    psutil.disk_io_counters()
    psutil.net_io_counters()
"""


def cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def measure_bare(rate: float, seconds: float) -> float:
    proc = subprocess.Popen([sys.executable, "-c", BARE_LOOP, str(rate), str(seconds)])
    ps = psutil.Process(proc.pid)
    # Exclude interpreter start-up: measure from after import to exit.
    time.sleep(0.5)
    start = cpu_seconds(ps)
    last = start
    while proc.poll() is None:
        try:
            last = cpu_seconds(ps)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    return last - start


def measure_daemon(rate: float, seconds: float) -> tuple[float, float, float, int]:
    tmp = tempfile.mkdtemp(prefix="eoc-bench-")
    sock = os.path.join(tmp, "s.sock")
    start_daemon(sock, os.path.join(tmp, "root"), ["--rate", "1"])
    with open(sock + ".lock") as handle:
        pid = int(handle.read())
    daemon = psutil.Process(pid)
    bridge = subprocess.Popen(
        [sys.executable, "-m", "device_runtime", "bridge", "--socket", sock, "--no-start"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0,
    )
    assert bridge.stdin is not None and bridge.stdout is not None
    bridge.stdin.write(p.encode(p.Hello(1, p.PROTOCOL_VERSION, "bench")))
    bridge.stdin.write(p.encode(p.Request(2, "telemetry.subscribe", {"rate_hz": rate})))
    received = [0]

    def drain() -> None:
        assert bridge.stdout is not None
        for line in bridge.stdout:
            if b'"telemetry.sample"' in line:
                received[0] += 1

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    time.sleep(1.0)  # let both processes settle before measuring
    bridge_ps = psutil.Process(bridge.pid)
    d0, b0, r0 = cpu_seconds(daemon), cpu_seconds(bridge_ps), received[0]
    time.sleep(seconds)
    d1, b1, r1 = cpu_seconds(daemon), cpu_seconds(bridge_ps), received[0]
    rss = daemon.memory_info().rss
    bridge.stdin.close()
    bridge.wait(timeout=10)
    subprocess.run([sys.executable, "-m", "device_runtime", "stop", "--socket", sock], capture_output=True,
                   check=False)
    return d1 - d0, b1 - b0, (r1 - r0) / seconds, rss


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=10.0)
    args = parser.parse_args()
    bare = measure_bare(args.rate, args.seconds)
    daemon_cpu, bridge_cpu, achieved, rss = measure_daemon(args.rate, args.seconds)
    total = daemon_cpu + bridge_cpu
    core_pct = 100.0 * total / args.seconds
    ratio = total / bare if bare > 0 else float("inf")
    print("telemetry cost at %.0f Hz over %.0f s (one client through the bridge)" % (args.rate, args.seconds))
    print("  samples delivered          %.2f /s" % achieved)
    print("  bare psutil loop           %.1f ms CPU (%.3f%% of a core)" % (bare * 1000, 100 * bare / args.seconds))
    print("  daemon                     %.1f ms CPU" % (daemon_cpu * 1000))
    print("  bridge                     %.1f ms CPU" % (bridge_cpu * 1000))
    print("  daemon + bridge            %.1f ms CPU = %.3f%% of one core  [target <= 1%%: %s]"
          % (total * 1000, core_pct, verdict(core_pct <= 1.0)))
    print("  ratio to bare loop         %.2fx  [target <= 1.5x: %s]" % (ratio, verdict(ratio <= 1.5)))
    print("  daemon RSS                 %.1f MB  [target < 40 MB: %s]" % (rss / 1e6, verdict(rss < 40e6)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
