"""``edgectl fleet status`` over N real daemons against one daemon, measured in the same run.

Each daemon is a real ``edge-runtime serve`` on its own temp socket, registered as a ``socket`` device
tagged ``bench``. A round is a whole ``edgectl fleet status --tag bench --json`` in-process: connect
(a bridge process per device), handshake, store, health, alerts and recent telemetry of every device.
Measured: one device, N devices with the default bound (8 at a time), and N devices one at a time.
Issue 21's target is 20 robots in under 3 s (there over SSH); the ratio to one device shows what the
parallel bound buys on this machine.

    python bench/fleet_status.py [--robots 20] [--rounds 5]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench._util import verdict
from console.cli.main import main as edgectl
from console.core.env import ConsoleEnv
from device_runtime.server.bridge import start_daemon

TARGET_S = 3.0


def _status(env: ConsoleEnv, *argv: str) -> float:
    env.stdout, env.stderr = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    code = edgectl(["fleet", "status", "--json", *argv], env)
    elapsed = time.perf_counter() - start
    rows = json.loads(env.stdout.getvalue())["devices"]
    if code != 0 or not all(row["status"] == "ok" for row in rows):
        raise SystemExit("fleet status failed: %s" % env.stderr.getvalue())
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--robots", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="eoc-bench-") as tmp:
        base = Path(tmp)
        env = ConsoleEnv(config_dir=base / "cfg", data_dir=base / "data", runtime_dir=base / "run",
                         environ={"HOME": str(base)})
        sockets = []
        try:
            for number in range(args.robots):
                socket_path = base / ("r%d" % number) / "rt.sock"
                start_daemon(str(socket_path), str(base / ("r%d" % number) / "root"), [])
                sockets.append(socket_path)
                env.stdout, env.stderr = io.StringIO(), io.StringIO()
                assert edgectl(["devices", "add", "r%d" % number, "--socket", str(socket_path), "--tag", "bench"],
                               env) == 0
            runs = {"one device": ("--devices", "r0"), "all, 8 at a time": ("--tag", "bench"),
                    "all, one at a time": ("--tag", "bench", "--parallel", "1")}
            times: dict[str, list[float]] = {name: [] for name in runs}
            for _ in range(args.rounds):
                for name, argv in runs.items():
                    times[name].append(_status(env, *argv))
        finally:
            for socket_path in sockets:
                subprocess.run([sys.executable, "-m", "device_runtime", "stop", "--socket", str(socket_path)],
                               capture_output=True, check=False, timeout=30)
    median = {name: statistics.median(values) for name, values in times.items()}
    one = median["one device"]
    for name, value in median.items():
        print("%-20s median %6.0f ms  %5.2fx one device" % (name, value * 1000, value / one))
    parallel, serial = median["all, 8 at a time"], median["all, one at a time"]
    print("%d devices: 8 at a time takes %.2fx the time of one at a time (%.0f ms per device against %.0f); "
          "on a machine with few cores each device's bridge process is CPU the bound cannot overlap"
          % (args.robots, parallel / serial, parallel * 1000 / args.robots, serial * 1000 / args.robots))
    print("%s: %d devices in %.2f s (target: 20 in under %.0f s%s)" % (
        verdict(parallel * 20 / args.robots <= TARGET_S), args.robots, parallel, TARGET_S,
        "" if args.robots == 20 else "; judged on %.2f s, scaled to 20 devices" % (parallel * 20 / args.robots)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
