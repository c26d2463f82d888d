"""Collector cost: every collector sampled at 10 Hz on a fixture board, against a bare loop that
reads the same files at the same rate, in the same run.

The board-specific collectors (Jetson sysfs, thermal zones) read the committed AGX Orin tree;
the procfs collector reads this machine's /proc (fixture trees hold no /proc/stat); NVML runs
as it would here (absent without a driver). The bare loop holds the same files open and does
the least work that yields numbers: pread + int() for sysfs attributes, pread + split for
procfs tables. Target (issue 4): collectors <= 1.5x the bare loop's CPU time. A second,
stricter bare loop reads the clock-limit files only once a second, as the collectors do
(jetson_clocks state); both ratios are printed. Each comparison runs for --seconds.

    python bench/collectors_cost.py [--seconds 30] [--board agx-orin]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench._util import verdict
from device_runtime.collectors.base import Collector
from device_runtime.collectors.nvml import NvmlCollector
from device_runtime.collectors.system import SystemCollector
from device_runtime.collectors.tegra import TegraCollector
from device_runtime.collectors.thermal import ThermalCollector

BOARDS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "boards")
PROC_FILES = ("/proc/stat", "/proc/meminfo", "/proc/diskstats", "/proc/net/dev")


def build(board: str) -> list[Collector]:
    root = os.path.join(BOARDS, board)
    return [
        SystemCollector(proc_root="/proc", sys_root="/sys"),
        ThermalCollector(sys_root=os.path.join(root, "sys")),
        NvmlCollector(),
        TegraCollector(*(os.path.join(root, part) for part in ("sys", "proc", "etc", "var"))),
    ]


def sysfs_files(collectors: list[Collector]) -> list[str]:
    """Every sysfs attribute the collectors hold open and read per sample."""
    paths: list[str] = []
    for collector in collectors:
        if isinstance(collector, TegraCollector):
            paths += [held.path for held in collector._held]
        elif isinstance(collector, ThermalCollector):
            paths += [held.path for _, held in collector._sensors]
    return paths


def once_a_second(collectors: list[Collector]) -> set[str]:
    """The clock-limit files the Jetson collector re-reads only once a second (jetson_clocks)."""
    paths: set[str] = set()
    for collector in collectors:
        if isinstance(collector, TegraCollector):
            for low, high in collector._gpu_limits + collector._cpu_limits:
                paths |= {low.path, high.path}
            fast_fds = {fd for _, fd, _ in collector._fast}
            paths -= {held.path for held in collector._held if held.fd in fast_fds}  # also read every tick
    return paths


def bare_sampler(sysfs: list[str], slow: set[str] | None = None,
                 rate: float = 10.0) -> tuple[Callable[[], int], Callable[[], None]]:
    """The least work that reads the same files: returns (sample, close). With ``slow``, those
    files are read once a second only, as the collectors read them (the stricter baseline)."""
    slow = slow or set()
    sys_fds = [os.open(p, os.O_RDONLY) for p in sysfs if p not in slow]
    slow_fds = [os.open(p, os.O_RDONLY) for p in sysfs if p in slow]
    proc_fds = [os.open(p, os.O_RDONLY) for p in PROC_FILES if os.path.exists(p)]
    every = max(1, round(rate))
    ticks = [0]

    def sample() -> int:
        total = 0
        ticks[0] += 1
        for fd in sys_fds + (slow_fds if ticks[0] % every == 1 or every == 1 else []):
            try:
                total += int(os.pread(fd, 64, 0).split()[0])
            except (ValueError, IndexError):
                pass
        for fd in proc_fds:
            total += len(os.pread(fd, 65536, 0).split(b"\n"))
        return total

    def close() -> None:
        for fd in sys_fds + slow_fds + proc_fds:
            os.close(fd)

    return sample, close


def interleaved(a: Callable[[], object], b: Callable[[], object], rate: float,
                seconds: float) -> tuple[float, float, int]:
    """Call ``a`` and ``b`` each at ``rate`` Hz, alternating at 2 x rate, for ``seconds``; returns the
    CPU seconds spent inside each and the calls per side. Alternating tick by tick means both
    see the same machine (caches gone cold after the sleep, other work on a shared host)."""
    period = 1.0 / (2 * rate)
    spent = [0.0, 0.0]
    start = time.monotonic()
    n = 0
    while True:
        target = start + n * period
        if target - start >= seconds:
            break
        delay = target - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        side = n % 2
        cpu0 = time.process_time()
        (a if side == 0 else b)()
        spent[side] += time.process_time() - cpu0
        n += 1
    return spent[0], spent[1], n // 2


def tight(fn: Callable[[], object], count: int) -> float:
    """Seconds of CPU per call, back to back (no sleeping): the cost of one sample itself."""
    cpu0 = time.process_time()
    for _ in range(count):
        fn()
    return (time.process_time() - cpu0) / count


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--board", default="agx-orin")
    args = parser.parse_args()
    collectors = build(args.board)
    files = sysfs_files(collectors)
    metrics = sum(len(c.metrics()) for c in collectors)

    def collect_all() -> int:
        values: dict[str, float] = {}
        for collector in collectors:
            values.update(collector.collect())
        return len(values)

    bare, close_bare = bare_sampler(files)
    slow = once_a_second(collectors)
    strict, close_strict = bare_sampler(files, slow, args.rate)
    collect_all()
    bare()
    strict()
    bare_cpu, coll_cpu, samples = interleaved(bare, collect_all, args.rate, args.seconds)
    strict_cpu, coll2_cpu, _ = interleaved(strict, collect_all, args.rate, args.seconds)
    time.sleep(1.0 / args.rate)  # one period on, so rates (CPU load, disk, network) have a baseline
    values = collect_all()
    bare_one, coll_one = tight(bare, 2000), tight(collect_all, 2000)
    close_bare()
    close_strict()
    for collector in collectors:
        collector.close()
    ratio = coll_cpu / bare_cpu if bare_cpu > 0 else float("inf")
    seconds = args.seconds
    print("collectors at %.0f Hz on the %s tree for %.0f s, alternating tick by tick with the bare loop"
          % (args.rate, args.board, seconds))
    print("  files read per sample      %d sysfs + %d procfs; %d metrics declared, %d read"
          % (len(files), len(PROC_FILES), metrics, values))
    print("  bare loop                  %.1f ms CPU for %d samples (%.3f%% of a core)"
          % (bare_cpu * 1000, samples, 100 * bare_cpu / seconds))
    print("  collectors                 %.1f ms CPU for %d samples (%.3f%% of a core)"
          % (coll_cpu * 1000, samples, 100 * coll_cpu / seconds))
    print("  per sample, back to back   bare %.1f us, collectors %.1f us (%.2fx)"
          % (bare_one * 1e6, coll_one * 1e6, coll_one / bare_one))
    print("  ratio at %.0f Hz             %.2fx  [target <= 1.5x: %s]" % (args.rate, ratio, verdict(ratio <= 1.5)))
    strict_ratio = coll2_cpu / strict_cpu if strict_cpu > 0 else float("inf")
    print("  stricter bare loop         reads the %d clock-limit files once a second, as the collectors do:"
          % len(slow))
    print("                             %.1f ms vs collectors %.1f ms: %.2fx  [target <= 1.5x: %s]"
          % (strict_cpu * 1000, coll2_cpu * 1000, strict_ratio, verdict(strict_ratio <= 1.5)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
