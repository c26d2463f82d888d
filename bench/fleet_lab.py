"""``edgectl fleet`` over the simulated lab (tests/support/netlab.py): 20 robots, each a real sshd in its own
network namespace with its own user, daemon and store, the runtime put there by ``edgectl install``.

Issue 21's two targets, each timed as the whole command a user runs, against a baseline measured in the
same run on the same lab:

- ``edgectl fleet status --tag lab --json`` of 20 robots in under 3 s (baseline: the same of one robot);
- ``edgectl fleet deploy PKG --tag lab`` of a 20 MB package to 20 robots in under 2x (the same deploy to
  one robot + the time the site link needs for the bytes of all robots: 20 x 20 MB at its rate). The
  link is real: everything the laptop sends to the robots leaves through the lab's bridge, capped with
  ``tc tbf`` (``--rate``, default 12.5 MB/s: a 100 Mbit/s site link). Each round deploys a new version
  (new random weights: nothing is already on a robot, and gzip cannot shrink it).

Medians over the rounds, with the machine's load printed beside them: on a small, busy machine one round
says little. Needs root, ``ip``, ``iptables``, ``tc`` and ``sshd``.

    python bench/fleet_lab.py [--robots 20] [--status-rounds 5] [--deploy-rounds 3] [--mb 20] [--rate 12.5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench._util import verdict
from console.core.models.packages import build_package
from tests.support.netlab import TAG, Lab, prepare_wheelhouse, start_lab, unavailable
from tests.support.store import make_onnx

STATUS_TARGET_S = 3.0
DEPLOY_FACTOR = 2.0
MB = 1_000_000


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


CONSOLE_CPU: dict[str, list[float]] = {}  # this process's (the console's) CPU seconds per command kind


def _timed(lab: Lab, *argv: str, kind: str = "") -> tuple[float, dict[str, object]]:
    start, cpu = time.perf_counter(), _cpu()
    code, out, err = lab.edgectl(*argv)
    elapsed = time.perf_counter() - start
    if kind:
        CONSOLE_CPU.setdefault(kind, []).append(_cpu() - cpu)
    if code != 0:
        raise SystemExit("edgectl %s failed (exit %d):\n%s%s" % (" ".join(argv), code, out[-3000:], err[-3000:]))
    return elapsed, json.loads(out)


def _status(lab: Lab, rounds: int) -> dict[str, list[float]]:
    runs = {"one robot": ("--devices", "robot-01"), "%d robots" % len(lab.robots): ("--tag", TAG)}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, select in runs.items():
            elapsed, status = _timed(lab, "fleet", "status", *select, "--json")
            rows = status["devices"]
            assert isinstance(rows, list)
            if not all(row["status"] == "ok" for row in rows):
                raise SystemExit("fleet status: not every robot answered: %s" % rows)
            times[name].append(elapsed)
    return times


def _package(directory: Path, version: str, size: int, seed: int) -> Path:
    model = make_onnx(directory / ("detector-%s.onnx" % version), seed, padding_bytes=size)
    out = directory / ("detector-%s.tar.gz" % version)
    build_package(model, out, "detector", version, "bench")
    model.unlink()
    return out


def _deploy(lab: Lab, rounds: int, size: int, work: Path) -> tuple[list[float], list[float], list[float]]:
    """Per round: one robot, then every robot; and each rollout's upload phase (first start to last end)."""
    one: list[float] = []
    all_: list[float] = []
    uploads: list[float] = []
    for number in range(rounds):
        for kind in ("one", "all"):
            version = "1.%d.%d" % (number, kind == "all")
            package = _package(work, version, size, seed=2 * number + (kind == "all"))
            select = ("--devices", "robot-01") if kind == "one" else ("--tag", TAG)
            elapsed, record = _timed(lab, "fleet", "deploy", str(package), *select, "--json", kind=kind)
            final = record["final"]
            assert isinstance(final, dict)
            if not all(p["status"] == "ok" and p["detail"].get("version") == version for p in final.values()):
                raise SystemExit("fleet deploy %s: not every robot took it: %s" % (version, final))
            package.unlink()
            (one if kind == "one" else all_).append(elapsed)
            if kind == "all":
                phases = record["phases"]
                assert isinstance(phases, list)
                up = [p for p in phases if p["phase"] == "upload"]
                uploads.append(max(p["started"] + p["seconds"] for p in up) - min(p["started"] for p in up))
    return one, all_, uploads


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--robots", type=int, default=20)
    parser.add_argument("--status-rounds", type=int, default=5)
    parser.add_argument("--deploy-rounds", type=int, default=3)
    parser.add_argument("--mb", type=float, default=20.0, help="the package's size in MB (default 20)")
    parser.add_argument("--rate", type=float, default=12.5,
                        help="the site link's rate in MB/s (default 12.5; 0: no cap, the machine is the limit)")
    parser.add_argument("--wheelhouse", type=Path, help="the robots' wheelhouse (default: prepared, a download)")
    args = parser.parse_args()
    reason = unavailable()
    if reason is not None:
        raise SystemExit("the simulated lab cannot run here: %s" % reason)
    with tempfile.TemporaryDirectory(prefix="eoc-bench-lab-") as tmp:
        work = Path(tmp)
        wheelhouse = args.wheelhouse or prepare_wheelhouse(work / "wheelhouse")
        started = time.perf_counter()
        with start_lab(args.robots, wheelhouse=wheelhouse) as lab:
            print("lab of %d robots up in %.0f s (namespaces, users, sshd, one install, every daemon started)"
                  % (args.robots, time.perf_counter() - started))
            status = _status(lab, args.status_rounds)
            rate = int(args.rate * MB)
            lab.set_uplink(rate or None)
            size = int(args.mb * MB)
            one, all_, uploads = _deploy(lab, args.deploy_rounds, size, work)
            load = os.getloadavg()
    print("machine: %d CPUs, load average %.1f %.1f %.1f at the end; medians of %d status and %d deploy rounds"
          % (os.cpu_count() or 0, *load, args.status_rounds, args.deploy_rounds))
    median = {name: statistics.median(values) for name, values in status.items()}
    first = next(iter(median.values()))
    for name, values in status.items():
        print("fleet status, %-10s median %6.0f ms  (%s)  %5.2fx one robot" % (
            name, median[name] * 1000, ", ".join("%.2f" % v for v in values), median[name] / first))
    whole = median["%d robots" % args.robots]
    print("%s: fleet status of %d robots in %.2f s (target: 20 in under %.0f s%s)" % (
        verdict(whole * 20 / args.robots < STATUS_TARGET_S), args.robots, whole, STATUS_TARGET_S,
        "" if args.robots == 20 else "; judged on %.2f s, scaled to 20 robots" % (whole * 20 / args.robots)))

    t_one, t_all, t_up = statistics.median(one), statistics.median(all_), statistics.median(uploads)
    link = args.robots * size / rate if rate else 0.0
    bound = DEPLOY_FACTOR * (t_one + link)
    print("fleet deploy of %.0f MB, one robot:   median %6.2f s  (%s)" % (
        args.mb, t_one, ", ".join("%.2f" % v for v in one)))
    print("fleet deploy of %.0f MB, %d robots: median %6.2f s  (%s); its upload phase %.2f s" % (
        args.mb, args.robots, t_all, ", ".join("%.2f" % v for v in all_), t_up))
    print("the console's own CPU (SSH encryption, hashing, edgectl): %.2f s for one robot, %.2f s for %d; the "
          "rest of each deploy's CPU is the robots' (sshd, sftp-server, import), here on the same cores" % (
              statistics.median(CONSOLE_CPU["one"]), statistics.median(CONSOLE_CPU["all"]), args.robots))
    if rate:
        print("the site link at %.1f MB/s needs %.2f s for %d x %.0f MB; one robot + that = %.2f s" % (
            args.rate, link, args.robots, args.mb, t_one + link))
    else:
        print("no cap on the site link: the bound is on one robot's time alone")
    print("%s: %d robots took %.2fx (one robot + link time) (target: under %.1fx, %.2f s); the upload phase "
          "moved %.1f MB/s%s" % (
              verdict(t_all < bound), args.robots, t_all / (t_one + link), DEPLOY_FACTOR, bound,
              args.robots * size / t_up / MB, " against the link's %.1f" % args.rate if rate else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
