"""Latency probe cost: the probe at 10 Hz on the demo model with ONNX Runtime, in a real daemon.

The baseline is the probe's own inference time, measured in the same run: the daemon reports the
summed duration of every inference it ran (``ProbeStatus.busy_s``). The probe's cost is the CPU
time of its child process plus the extra CPU time of the daemon while it runs, against the
daemon's CPU time over the same length with the probe off (alternating phases, so drift in the
machine's load falls on both sides).

Target (issue 7): cost <= inference time + 5 %.

    python bench/latency_probe_cost.py [--seconds 30] [--rate 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench._util import verdict
from console.core.packages import build_package
from console.core.session import DeviceSession
from console.core.settings import DeviceEntry
from console.core.store_client import StoreClient
from console.transport.local import LocalTransport
from device_runtime.demo_model import DEMO_NAME, INPUT_SHAPE, write_demo_model
from device_runtime.protocol import Empty, ProbeSettings, ProbeStatus, StorePolicyUpdate
from device_runtime.server.bridge import start_daemon


def cpu_seconds(proc: psutil.Process) -> float:
    """CPU time of every thread, in nanosecond resolution (schedstat), not clock ticks."""
    total = 0
    task_dir = "/proc/%d/task" % proc.pid
    for tid in os.listdir(task_dir):
        try:
            with open(os.path.join(task_dir, tid, "schedstat")) as handle:
                total += int(handle.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that ended meanwhile
    return total / 1e9


BARE_WAKEUPS = r"""
import select, sys, time
rate, seconds = float(sys.argv[1]), float(sys.argv[2])
sys.stdin.readline()
end = time.monotonic() + seconds
next_at = time.monotonic()
while next_at < end:
    next_at += 1.0 / rate
    select.select([], [], [], max(0.0, next_at - time.monotonic()))
"""


def bare_wakeups(rate: float, seconds: float) -> float:
    """CPU time of a process that only wakes at ``rate`` (the platform's floor for any paced loop)."""
    proc = subprocess.Popen([sys.executable, "-c", BARE_WAKEUPS, str(rate), str(seconds)], stdin=subprocess.PIPE)
    ps = psutil.Process(proc.pid)
    time.sleep(0.5)  # past the interpreter's start
    before = cpu_seconds(ps)
    assert proc.stdin is not None
    proc.stdin.write(b"go\n")
    proc.stdin.flush()
    last = before
    while proc.poll() is None:
        try:
            last = cpu_seconds(ps)
        except (FileNotFoundError, psutil.NoSuchProcess):
            break
        time.sleep(0.05)
    return last - before


def probe_status(session: DeviceSession) -> ProbeStatus:
    status = session.request("probe.get", Empty())
    assert isinstance(status, ProbeStatus)
    return status


def wait_loaded(session: DeviceSession, deadline_s: float = 60.0) -> ProbeStatus:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        status = probe_status(session)
        if status.provider and status.count > 0:
            return status
        if status.state == "failed":
            raise SystemExit("the probe failed: %s" % status.reason)
        time.sleep(0.1)
    raise SystemExit("the probe did not load within %.0f s" % deadline_s)


def after_next_batch(session: DeviceSession, daemon: psutil.Process, worker: psutil.Process,
                     ) -> tuple[ProbeStatus, float, float, int]:
    """Status and CPU times just after a batch of readings arrived: the worker's CPU for those
    readings is spent and counted, so both sides of the ratio cover the same inferences. Also
    how many requests that took (the off phase sends as many, so the daemon's side stays fair)."""
    first = probe_status(session).count
    polls = 1
    while True:
        status = probe_status(session)
        polls += 1
        if status.count != first:
            return status, cpu_seconds(worker), cpu_seconds(daemon), polls
        time.sleep(0.05)


def probe_process(daemon: psutil.Process) -> psutil.Process:
    for child in daemon.children():
        if "device_runtime.latency.probe_worker" in " ".join(child.cmdline()):
            return child
    raise SystemExit("no probe process under the daemon")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0, help="probe-on time in total, split over the rounds")
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    phase = args.seconds / args.rounds
    tmp = Path(tempfile.mkdtemp(prefix="eoc-bench-"))
    sock, root = tmp / "rt" / "s.sock", tmp / "root"
    start_daemon(str(sock), str(root), ["--rate", "1"])
    daemon = psutil.Process(int((tmp / "rt" / "s.sock.lock").read_text()))
    session = DeviceSession(DeviceEntry(name="bench", kind="local"),
                            LocalTransport(sys.executable, sock, root, demo=False), time.time)
    try:
        session.connect()
        session.request("store.policy.set", StorePolicyUpdate(policy="allow-unsigned", who="bench"))
        model = write_demo_model(str(tmp / "demo.onnx"))
        build_package(Path(model), tmp / "demo.tar.gz", DEMO_NAME, "1.0.0", "bench")
        action = StoreClient(session, "bench").deploy(tmp / "demo.tar.gz")
        assert action.result == "committed", action.message
        shapes = {"image": list(INPUT_SHAPE)}
        probe_cpu = daemon_on = daemon_off = busy = 0.0
        count = 0
        for _ in range(args.rounds):
            session.request("probe.set", ProbeSettings(DEMO_NAME, args.rate, shapes))
            wait_loaded(session)
            time.sleep(1.0)  # past the model load and the first batch
            worker = probe_process(daemon)
            s0, w0, d0, _ = after_next_batch(session, daemon, worker)
            time.sleep(phase - 0.5)
            s1, w1, d1, polls = after_next_batch(session, daemon, worker)
            probe_cpu += w1 - w0
            daemon_on += d1 - d0
            busy += s1.busy_s - s0.busy_s
            count += s1.count - s0.count
            session.request("probe.set", ProbeSettings(DEMO_NAME, 0.0))
            time.sleep(1.0)
            d2 = cpu_seconds(daemon)
            time.sleep(phase - polls * 0.05)
            for _ in range(polls):
                probe_status(session)
                time.sleep(0.05)
            daemon_off += cpu_seconds(daemon) - d2
        rss = daemon.memory_info().rss
    finally:
        session.close()
        subprocess.run([sys.executable, "-m", "device_runtime", "stop", "--socket", str(sock)], capture_output=True,
                       check=False)
    floor = bare_wakeups(args.rate, args.seconds)
    daemon_extra = daemon_on - daemon_off
    cost = probe_cpu + daemon_extra
    ratio = cost / busy if busy > 0 else float("inf")
    print("latency probe cost: %s at %g Hz, ONNX Runtime, %d x %.0f s on and off" % (DEMO_NAME, args.rate,
                                                                                     args.rounds, phase))
    print("  inferences                  %d (%.2f /s)" % (count, count / args.seconds))
    print("  inference time (baseline)   %.1f ms (%.3f ms each)" % (busy * 1000, busy * 1000 / max(count, 1)))
    print("  probe process CPU           %.1f ms" % (probe_cpu * 1000))
    print("  daemon CPU, probe on / off  %.1f / %.1f ms (extra %.1f ms)" % (daemon_on * 1000, daemon_off * 1000,
                                                                         daemon_extra * 1000))
    print("  probe cost                  %.1f ms CPU = %.3f x its inference time  [target <= 1.05x: %s]"
          % (cost * 1000, ratio, verdict(ratio <= 1.05)))
    print("  a bare loop waking at %g Hz %.1f ms CPU (%.1f us a wake-up: this machine's floor for any paced loop)"
          % (args.rate, floor * 1000, floor * 1e6 / max(args.rate * args.seconds, 1)))
    print("  cost beyond that floor      %.3f x its inference time" % ((cost - floor) / busy if busy > 0 else 0.0))
    print("  daemon RSS                  %.1f MB  [target < 40 MB: %s]" % (rss / 1e6, verdict(rss < 40e6)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
