"""Latency from a sample taken on the device to its delivery in console.core, on the local
transport, against an in-run baseline: one JSON frame of the same size through a bare pipe.

Target (issue: foundation): p99 <= 5 ms.

    python bench/telemetry_latency.py [--samples 400]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench._util import percentile, summary_ms, verdict
from console.core.app import ConsoleCore
from console.core.env import ConsoleEnv

ECHO = "import sys\nfor line in sys.stdin.buffer:\n    sys.stdout.buffer.write(line); sys.stdout.buffer.flush()\n"


def pipe_baseline(frame: bytes, n: int) -> list[float]:
    proc = subprocess.Popen([sys.executable, "-c", ECHO], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    assert proc.stdin is not None and proc.stdout is not None
    out = []
    for _ in range(n):
        start = time.time()
        proc.stdin.write(frame)
        line = proc.stdout.readline()
        json.loads(line)
        out.append((time.time() - start) / 2)  # one way
    proc.stdin.close()
    proc.wait()
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--rate", type=float, default=20.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="eoc-lat-"))
    env = ConsoleEnv(config_dir=tmp / "cfg", data_dir=tmp / "data", runtime_dir=tmp / "run")
    core = ConsoleCore(env)
    session = core.session("local")
    session.connect()
    delays: queue.Queue[float] = queue.Queue()
    session.sample_listeners.append(lambda t, _v: delays.put(time.time() - t))
    session.start_telemetry(args.rate)
    got = [delays.get(timeout=10) for _ in range(args.samples)]
    frame_len = len(json.dumps({"values": {"x%d" % i: 12.345 for i in range(len(session.store.metrics))}}))
    core.close()
    subprocess.run([sys.executable, "-m", "device_runtime", "stop", "--socket", str(env.local_socket)],
                   capture_output=True, check=False)
    frame = (json.dumps({"pad": "x" * frame_len}) + "\n").encode()
    base = pipe_baseline(frame, args.samples)
    p99 = percentile(got, 99) * 1000
    print("sample-to-console.core latency on the local transport at %.0f Hz" % args.rate)
    print("  product   %s" % summary_ms(got))
    print("  baseline  %s  (bare pipe + JSON, one way, same frame size)" % summary_ms(base))
    print("  p99 %.3f ms  [target <= 5 ms: %s]; p50 ratio to baseline %.1fx"
          % (p99, verdict(p99 <= 5.0), percentile(got, 50) / max(percentile(base, 50), 1e-9)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
