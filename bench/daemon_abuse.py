"""Hostile clients against a real daemon: its memory and a well-behaved client's ``status``
latency during each attack, against the same daemon idle, measured in the same run.

Attacks: clients that send requests and never read a reply (each reconnecting once the daemon
drops it), and 1000 connections that never say a word. Targets (issue 20): RSS under 2x its
idle size, and ``status`` (connect, hello with the capabilities, ping: what edgectl status
waits for) under 1.5x its idle latency at the median, during each attack.

    python bench/daemon_abuse.py [--seconds 30] [--flooders 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench._util import summary_ms, verdict
from device_runtime import protocol as p
from device_runtime.server.bridge import start_daemon
from tests.support.daemons import stop_daemon
from tests.support.wire import RawClient


def _status(socket_path: Path) -> float:
    start = time.perf_counter()
    client = RawClient(socket_path, timeout=60)
    client.handshake()
    reply = client.call("ping")
    elapsed = time.perf_counter() - start
    client.close()
    assert isinstance(reply, p.Response), reply
    return elapsed


def _measure(socket_path: Path, proc: psutil.Process, seconds: float) -> tuple[list[float], int]:
    """Status latencies, one every 50 ms, and the daemon's peak RSS over ``seconds``."""
    times: list[float] = []
    peak = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        times.append(_status(socket_path))
        peak = max(peak, proc.memory_info().rss)
        time.sleep(0.05)  # pacing of the sampler, not a wait for readiness
    return times, peak


def _flooder(socket_path: Path, stop: threading.Event, stats: dict[str, int]) -> None:
    """Requests with a large reply, never a byte read; on a drop, connect again and go on."""
    batch = p.encode(p.Request(1, "telemetry.describe", {})) * 500
    while not stop.is_set():
        client = RawClient(socket_path, timeout=1.0)
        client.handshake()
        try:
            while not stop.is_set():
                try:
                    client.sock.sendall(batch)
                    stats["sent"] += 1
                except TimeoutError:
                    continue  # the daemon stopped reading us: keep pushing
        except OSError:
            stats["dropped"] += 1
        finally:
            client.close()


def _attack(name: str, socket_path: Path, proc: psutil.Process, seconds: float, base_lat: float,
            base_rss: int, start: Callable[[], Callable[[], str]]) -> bool:
    finish = start()
    times, peak = _measure(socket_path, proc, seconds)
    detail = finish()
    lat = statistics.median(times)
    rss_ratio, lat_ratio = peak / base_rss, lat / base_lat
    ok = rss_ratio < 2.0 and lat_ratio < 1.5
    print("%s (%s):" % (name, detail))
    print("  status: %s" % summary_ms(times))
    print("  peak RSS %.1f MB = %.2fx idle (target < 2x); status median %.2f ms = %.2fx idle (target < 1.5x)  %s"
          % (peak / 1e6, rss_ratio, lat * 1000, lat_ratio, verdict(ok)))
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each phase")
    parser.add_argument("--flooders", type=int, default=2, help="non-reading clients at once")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 4096), hard), hard))
    with tempfile.TemporaryDirectory(prefix="eoc-abuse-") as tmp:
        socket_path = Path(tmp) / "rt" / "edge-runtime.sock"
        start_daemon(str(socket_path), str(Path(tmp) / "root"), ["--rate", "2"])
        try:
            proc = psutil.Process(int(Path(str(socket_path) + ".lock").read_text()))
            _status(socket_path)  # warm
            idle_times, idle_rss = _measure(socket_path, proc, args.seconds)
            base_lat = statistics.median(idle_times)
            print("idle: RSS %.1f MB; status: %s" % (idle_rss / 1e6, summary_ms(idle_times)))

            def flood() -> Callable[[], str]:
                stop = threading.Event()
                stats = {"sent": 0, "dropped": 0}
                threads = [threading.Thread(target=_flooder, args=(socket_path, stop, stats))
                           for _ in range(args.flooders)]
                for t in threads:
                    t.start()

                def finish() -> str:
                    stop.set()
                    for t in threads:
                        t.join()
                    return "%d non-reading clients, %d batches of 500 requests sent, dropped %d times" % (
                        args.flooders, stats["sent"], stats["dropped"])
                return finish

            def idle_connections() -> Callable[[], str]:
                held = []
                for _ in range(1000):
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.connect(str(socket_path))
                    held.append(s)

                def finish() -> str:
                    fds = proc.num_fds()
                    for s in held:
                        s.close()
                    return "1000 connections that never speak; the daemon held %d fds at the end" % fds
                return finish

            ok = _attack("flood", socket_path, proc, args.seconds, base_lat, idle_rss, flood)
            ok = _attack("idle connections", socket_path, proc, args.seconds, base_lat, idle_rss,
                         idle_connections) and ok
        finally:
            stop_daemon(socket_path)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
