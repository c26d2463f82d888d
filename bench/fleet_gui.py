"""The console's own cost with the Fleet page watching N robots at 1 Hz, against the console on one device.

Each robot is a real ``edge-runtime serve`` daemon on its own unix socket and store, registered as a
``socket`` device with a tag (what a lab of daemons on one machine looks like to the console). The console
is the real ``edge-console`` (offscreen Qt), started as a user starts it:

* baseline: ``edge-console`` on This computer's Dashboard (one device, the robots registered but not watched);
* fleet:    ``edge-console --page fleet``: the same window, and the Fleet page connected to every robot
  (telemetry at 1 Hz each, versions, health and alerts every 15 s).

After a warm-up (every robot connected: one bridge process per robot under the console), the console
process's CPU time (user + system, from /proc) and resident memory are sampled over a window. Issue 21's
targets: under 15 % of one core and under 400 MB RSS with 50 robots. The bridge processes the console starts
(one per socket device: the stand-in for an SSH channel's far end) are reported beside it, not in it.

    python bench/fleet_gui.py [--robots 50] [--warmup 40] [--window 60]

KEEP=1 keeps the temp directory (each console's output, the daemons' logs) to look at afterwards.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench._util import verdict
from console.cli.main import main as edgectl
from console.core.env import ConsoleEnv
from device_runtime.server.bridge import start_daemon

CPU_TARGET_PCT = 15.0
RSS_TARGET_MB = 400.0
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
# edge-console as installed beside this Python (a venv's bin/), else the same entry point through -c
_SCRIPT = os.path.join(os.path.dirname(sys.executable), "edge-console")
CONSOLE = [_SCRIPT] if os.path.exists(_SCRIPT) else [
    sys.executable, "-c", "import sys; from console.ui.app import main; sys.exit(main())"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process, in seconds."""
    with open("/proc/%d/stat" % pid) as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    with open("/proc/%d/statm" % pid) as statm:
        return int(statm.read().split()[1]) * PAGE / 1e6


def children(pid: int) -> list[int]:
    """The console's child processes (the bridges, one per connected device)."""
    found = []
    for task in os.listdir("/proc/%d/task" % pid):  # a child belongs to the thread that started it
        try:
            with open("/proc/%d/task/%s/children" % (pid, task)) as listing:
                found.extend(int(p) for p in listing.read().split())
        except OSError:
            continue
    return found


def measure(env: dict[str, str], argv: list[str], want_bridges: int, warmup_s: float, window_s: float,
            label: str) -> dict[str, float]:
    """Start the console, wait for its bridges and the warm-up, then sample it over the window."""
    log = Path(env["HOME"]) / ("%s.log" % label)
    with open(log, "wb") as out:
        proc = subprocess.Popen([*CONSOLE, *argv], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        started = time.monotonic()
        while len(children(proc.pid)) < want_bridges:
            if proc.poll() is not None:
                raise SystemExit("%s: the console exited (%s): %s" % (label, proc.returncode,
                                                                     log.read_text(errors="replace")[-2000:]))
            if time.monotonic() - started > 180:
                raise SystemExit("%s: %d of %d devices connected after 180 s" % (label, len(children(proc.pid)),
                                                                                 want_bridges))
            time.sleep(0.5)
        connected_s = time.monotonic() - started
        time.sleep(warmup_s)
        bridges = children(proc.pid)
        cpu0, child0, t0 = cpu_seconds(proc.pid), sum(_safe(cpu_seconds, p) for p in bridges), time.monotonic()
        peak = 0.0
        while time.monotonic() - t0 < window_s:
            peak = max(peak, rss_mb(proc.pid))
            time.sleep(min(2.0, window_s / 10))
        elapsed = time.monotonic() - t0
        cpu1, child1 = cpu_seconds(proc.pid), sum(_safe(cpu_seconds, p) for p in bridges)
        peak = max(peak, rss_mb(proc.pid))
        result = {"connected_s": connected_s, "cpu_pct": 100 * (cpu1 - cpu0) / elapsed, "rss_mb": peak,
                  "bridges": float(len(bridges)), "bridge_cpu_pct": 100 * (child1 - child0) / elapsed,
                  "bridge_rss_mb": sum(_safe(rss_mb, p) for p in bridges)}
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return result


def _safe(read: Callable[[int], float], pid: int) -> float:
    try:
        return read(pid)
    except OSError:
        return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--robots", type=int, default=50)
    parser.add_argument("--warmup", type=float, default=40.0, help="seconds after every robot connected")
    parser.add_argument("--window", type=float, default=60.0, help="seconds measured")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="eoc-fleetgui-"))
    # the places edge-console finds from XDG_CONFIG_HOME, XDG_DATA_HOME and XDG_RUNTIME_DIR below
    env = ConsoleEnv(config_dir=base / "config" / "edge-console", data_dir=base / "data" / "edge-console",
                     runtime_dir=base / "run", environ={"HOME": str(base)})
    sockets = []
    try:
        t0 = time.monotonic()
        for number in range(1, args.robots + 1):
            socket_path = base / ("r%d" % number) / "rt.sock"
            start_daemon(str(socket_path), str(base / ("r%d" % number) / "root"), [])
            sockets.append(socket_path)
            env.stdout, env.stderr = io.StringIO(), io.StringIO()
            tag = "lab-a" if number % 2 else "lab-b"
            if edgectl(["devices", "add", "robot-%02d" % number, "--socket", str(socket_path), "--tag", tag],
                       env) != 0:
                raise SystemExit(env.stderr.getvalue())
        print("%d robots started in %.0f s (real edge-runtime daemons on unix sockets)"
              % (args.robots, time.monotonic() - t0))
        child_env = {**os.environ, "HOME": str(base), "XDG_CONFIG_HOME": str(base / "config"),
                     "XDG_DATA_HOME": str(base / "data"), "XDG_RUNTIME_DIR": str(base / "run"),
                     "QT_QPA_PLATFORM": "offscreen"}
        (base / "run").mkdir(exist_ok=True)  # else edge-console falls back to a shared directory in /tmp
        baseline = measure(child_env, ["--device", "local"], 1, args.warmup, args.window, "baseline")
        fleet = measure(child_env, ["--device", "local", "--page", "fleet"], args.robots + 1, args.warmup,
                        args.window, "fleet")
    finally:
        for socket_path in sockets:
            subprocess.run([sys.executable, "-m", "device_runtime", "stop", "--socket", str(socket_path)],
                           capture_output=True, check=False, timeout=30)
        subprocess.run([sys.executable, "-m", "device_runtime", "stop", "--socket",
                        str(env.local_socket)], capture_output=True, check=False, timeout=30)
        if not os.environ.get("KEEP"):
            subprocess.run(["rm", "-rf", str(base)], check=False)
    for name, run in (("one device (baseline)", baseline), ("fleet page, %d robots" % args.robots, fleet)):
        print("%-24s console %5.1f %% of a core, %6.0f MB RSS; %2d bridge processes %5.1f %% CPU, %5.0f MB "
              "(all connected after %.1f s)" % (name, run["cpu_pct"], run["rss_mb"], run["bridges"],
                                                run["bridge_cpu_pct"], run["bridge_rss_mb"], run["connected_s"]))
    print("fleet / baseline: CPU %.2fx, RSS %.2fx" % (fleet["cpu_pct"] / max(baseline["cpu_pct"], 1e-9),
                                                      fleet["rss_mb"] / baseline["rss_mb"]))
    cpu_ok, rss_ok = fleet["cpu_pct"] < CPU_TARGET_PCT, fleet["rss_mb"] < RSS_TARGET_MB
    print("%s: console CPU %.1f %% of a core (target under %.0f %%) over %.0f s after a %.0f s warm-up"
          % (verdict(cpu_ok), fleet["cpu_pct"], CPU_TARGET_PCT, args.window, args.warmup))
    print("%s: console RSS %.0f MB at most (target under %.0f MB)" % (verdict(rss_ok), fleet["rss_mb"], RSS_TARGET_MB))
    return 0 if cpu_ok and rss_ok else 1


if __name__ == "__main__":
    sys.exit(main())
