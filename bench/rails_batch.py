"""Power rails read from hwmon files held open, in batches at fixed intervals: each batch reports
the interval it achieved, its jitter, and the CPU one read of all rails costs, against opening
and closing every file per read (the baseline, measured in the same run).

Rails come from a committed board tree (INA3221 ``inN_input`` x ``currN_input``, found by the
collector's own ``rail_sources``); the held-open path is the collector's ``read_products`` loop.
jtop's service has one interval for all its clients, so it is never the source of these rates.

    python bench/rails_batch.py [--board agx-orin] [--batch 100]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench._util import percentile, verdict
from device_runtime.collectors.base import read_products
from device_runtime.collectors.tegra_power import rail_sources

BOARDS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "boards")


def open_close_read(rails: list[tuple[str, list[str], float]], out: dict[str, float]) -> None:
    """The baseline: open, read and close every file on every read."""
    for name, paths, factor in rails:
        value = 1
        for path in paths:
            with open(path, "rb") as handle:
                value *= int(handle.read())
        out[name] = value * factor


def batch(read: Callable[[], None], interval: float, count: int) -> tuple[list[float], float]:
    """Read ``count`` times on an absolute schedule; returns the intervals achieved and the CPU
    seconds spent inside the reads."""
    stamps: list[float] = []
    cpu = 0.0
    start = time.monotonic() + interval
    for n in range(count):
        delay = start + n * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        stamps.append(time.monotonic())
        cpu0 = time.process_time()
        read()
        cpu += time.process_time() - cpu0
    return [b - a for a, b in itertools.pairwise(stamps)], cpu


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--board", default="agx-orin")
    parser.add_argument("--batch", type=int, default=100, help="reads per batch")
    parser.add_argument("--intervals", default="100,50,20,10", help="target intervals in ms")
    args = parser.parse_args()
    rails = rail_sources(os.path.join(BOARDS, args.board, "sys"))
    fds = [(name, os.open(paths[0], os.O_RDONLY), os.open(paths[1], os.O_RDONLY), factor)
           for name, paths, factor in rails if len(paths) == 2]
    held_out: dict[str, float] = {}
    base_out: dict[str, float] = {}
    print("power rails of the %s tree: %s (%d files held open)"
          % (args.board, ", ".join(name for name, _, _ in rails), 2 * len(fds)))
    print("  %-8s %-10s %-10s %-10s %-10s %-14s %-14s %s" % ("target", "achieved", "jitter sd", "jitter p99",
                                                           "max late", "held us/read", "open us/read", "ratio"))
    worst_ratio = 0.0
    for ms in (float(x) for x in args.intervals.split(",")):
        interval = ms / 1000.0
        gaps, held_cpu = batch(lambda: read_products(fds, held_out), interval, args.batch)
        _, base_cpu = batch(lambda: open_close_read(rails, base_out), interval, args.batch)
        errors = [abs(g - interval) * 1000 for g in gaps]
        held_us, base_us = held_cpu / args.batch * 1e6, base_cpu / args.batch * 1e6
        worst_ratio = max(worst_ratio, held_us / base_us)
        print("  %-8s %-10s %-10s %-10s %-10s %-14.1f %-14.1f %.2fx" % (
            "%g ms" % ms, "%.2f ms" % (statistics.fmean(gaps) * 1000), "%.3f ms" % statistics.pstdev(errors),
            "%.3f ms" % percentile(errors, 99), "%.3f ms" % max(g * 1000 - ms for g in gaps),
            held_us, base_us, held_us / base_us))
    assert held_out == base_out, "both paths must read the same milliwatts"
    print("  held-open reads cost at most %.2fx of open/read/close  [target < 1x: %s]"
          % (worst_ratio, verdict(worst_ratio < 1.0)))
    for _, first, second, _ in fds:
        os.close(first)
        os.close(second)
    return 0


if __name__ == "__main__":
    sys.exit(main())
