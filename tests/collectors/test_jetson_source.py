"""The Jetson source chosen again while running: sysfs, else tegrastats, else procfs, and back.

The board tree sits behind a symlink that the tests point elsewhere (a container losing its /sys
mount, a driver unbound for good) and back. tegrastats is a real child process: a script that prints
the recorded AGX Orin line (tests/fixtures/tegrastats/agx-orin-jp5.txt, the line the agx-orin tree's
rails were derived from) once per interval, as tegrastats does. The collector's clock is a plain
number; tegrastats' lines are timed by the real clock.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from device_runtime.collectors import default_collectors
from device_runtime.collectors.jetson_source import PROCFS, RETRY_S, SYSFS, TEGRASTATS, JetsonCollector
from device_runtime.collectors.source_watch import WATCH_SLICES
from device_runtime.collectors.tegra import TegraCollector
from device_runtime.collectors.tegrastats_source import TegrastatsCollector
from tests.support.tree_swap import Clock, point

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LINE = FIXTURES / "tegrastats" / "agx-orin-jp5.txt"
LOGGER = "device_runtime.collectors.jetson_source"
Start = Callable[[float], TegrastatsCollector]


def stand_in_tegrastats(tmp_path: Path, forever: bool = True) -> Path:
    """A tegrastats that prints the recorded line every --interval ms (or once, then exits)."""
    script = tmp_path / "tegrastats"
    loop = 'while :; do cat "%s"; sleep "$(awk "BEGIN { print $2 / 1000 }")"; done' % LINE
    script.write_text("#!/bin/sh\n" + (loop if forever else 'cat "%s"' % LINE) + "\n")
    script.chmod(0o755)
    return script


def starter(path: Path, started: list[TegrastatsCollector]) -> Start:
    def start(first_line_timeout: float) -> TegrastatsCollector:
        collector = TegrastatsCollector(str(path), interval_ms=100, first_line_timeout=first_line_timeout)
        started.append(collector)
        return collector
    return start


def until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Wait for a child process to have done something, polling the condition."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        pause.wait(0.02)


def board(tmp_path: Path) -> tuple[Path, Path]:
    """The AGX Orin tree, its sys behind a symlink; returns (tree, sys link)."""
    tree = tmp_path / "agx-orin"
    shutil.copytree(FIXTURES / "boards" / "agx-orin", tree)
    (tmp_path / "no-sys").mkdir()
    link = tmp_path / "sys"
    link.symlink_to(tree / "sys")
    return tree, link


def jetson(tree: Path, link: Path, clock: Clock, start: Start | None) -> JetsonCollector:
    sysfs = TegraCollector(str(link), str(tree / "proc"), str(tree / "etc"), str(tree / "var"), clock=clock)
    return JetsonCollector(sysfs, start, clock=clock)


def checks(collector: JetsonCollector, clock: Clock, seconds: int = WATCH_SLICES) -> dict[str, float]:
    """Sample once per clock second, long enough for sysfs' watch to have checked every file."""
    values: dict[str, float] = {}
    for _ in range(seconds):
        clock.now += 1.0
        values = collector.collect()
    return values


def switches(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def test_sysfs_gone_falls_back_to_tegrastats_and_comes_back(tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    tree, link = board(tmp_path)
    script = stand_in_tegrastats(tmp_path)
    started: list[TegrastatsCollector] = []
    clock = Clock()
    caplog.set_level(logging.WARNING, logger=LOGGER)
    collector = jetson(tree, link, clock, starter(script, started))
    try:
        assert collector.source == SYSFS and not started
        assert collector.collect()["power.vdd_gpu_soc"] == pytest.approx(2340, rel=0.01)
        rail = collector.sources()["power.vdd_gpu_soc"]
        assert rail.startswith(str(link))
        point(link, tmp_path / "no-sys")  # every sysfs node vanishes for good
        checks(collector, clock)
        assert collector.source == TEGRASTATS and len(started) == 1
        until(lambda: "power.vdd_gpu_soc" in collector.collect(), "the first tegrastats line")
        values = collector.collect()
        assert values["power.vdd_gpu_soc"] == 2340.0 and values["jetson.gpu.load"] == 0.0
        assert values["jetson.gpu.shared_mem"] > 0  # still read from /proc/meminfo by the sysfs side
        sources = collector.sources()
        assert sources["power.vdd_gpu_soc"] == "tegrastats (%s)" % script
        assert sources["jetson.gpu.shared_mem"] == str(tree / "proc" / "meminfo")
        assert "power.vdd_gpu_soc" in {spec.name for spec in collector.metrics()}
        assert collector.state()["telemetry_source"] == TEGRASTATS
        assert collector.absent()["sysfs"].endswith("reading tegrastats instead")
        checks(collector, clock, 3)  # more samples before the retry: said once only
        assert switches(caplog) == ["Jetson telemetry now reads tegrastats (%s): sysfs gives no GPU clock and no "
                                    "power rail under %s" % (script, link)]

        point(link, tree / "sys")  # sysfs is back: taken at the next look, tegrastats stopped
        clock.now += RETRY_S
        values = collector.collect()
        assert collector.source == SYSFS and "sysfs" not in collector.absent()
        assert values["power.vdd_gpu_soc"] == pytest.approx(2340, rel=0.01)
        assert collector.sources()["power.vdd_gpu_soc"] == rail
        assert started[0].failure() is not None  # its process was ended
        assert switches(caplog)[1:] == ["Jetson telemetry now reads sysfs (%s): sysfs gives GPU or power readings "
                                        "again" % link]
    finally:
        collector.close()


def test_without_tegrastats_procfs_is_left_until_sysfs_returns(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    tree, link = board(tmp_path)
    started: list[TegrastatsCollector] = []
    clock = Clock()
    caplog.set_level(logging.WARNING, logger=LOGGER)
    collector = jetson(tree, link, clock, starter(tmp_path / "no-tegrastats", started))
    try:
        point(link, tmp_path / "no-sys")
        values = checks(collector, clock)
        assert collector.source == PROCFS
        assert not any(name.startswith(("power.", "jetson.gpu.load", "jetson.gpu.freq")) for name in values)
        sources = collector.sources()
        assert sources["cpu.load"] == "%s (system collector)" % (tree / "proc" / "stat")
        assert sources["mem.used"] == "%s (system collector)" % (tree / "proc" / "meminfo")
        why = collector.absent()["sysfs"]
        assert "cannot run %s" % (tmp_path / "no-tegrastats") in why and why.endswith("reading procfs instead")
        clock.now += RETRY_S - 1.0
        collector.collect()  # the look again finds nothing: no new line in the log
        assert collector.source == PROCFS and len(switches(caplog)) == 1
        assert switches(caplog)[0].startswith("Jetson telemetry now reads procfs only (CPU load and memory; ")
        point(link, tree / "sys")
        clock.now += RETRY_S
        collector.collect()
        assert collector.source == SYSFS and "cpu.load" not in collector.sources()
        assert len(switches(caplog)) == 2
    finally:
        collector.close()


def test_tegrastats_that_exits_leaves_procfs(tmp_path: Path) -> None:
    tree, link = board(tmp_path)
    started: list[TegrastatsCollector] = []
    clock = Clock()
    collector = jetson(tree, link, clock, starter(stand_in_tegrastats(tmp_path, forever=False), started))
    try:
        point(link, tmp_path / "no-sys")
        checks(collector, clock)
        until(lambda: started[0].failure() is not None, "tegrastats to exit")
        collector.collect()
        assert collector.source == PROCFS
        assert "tegrastats exited" in collector.absent()["sysfs"]
        assert "power.vdd_gpu_soc" not in collector.sources()
    finally:
        collector.close()


def test_at_start_an_unreadable_sysfs_takes_tegrastats(tmp_path: Path) -> None:
    tree, _ = board(tmp_path)
    script = stand_in_tegrastats(tmp_path)
    collectors = default_collectors(sys_root=str(tmp_path / "no-sys"), proc_root=str(tree / "proc"),
                                    etc_root=str(tree / "etc"), var_root=str(tree / "var"),
                                    tegrastats_path=str(script))
    try:
        (jetson_source,) = [c for c in collectors if isinstance(c, JetsonCollector)]
        assert jetson_source.name == "tegra" and jetson_source.source == TEGRASTATS
        assert "power.vdd_cpu_cv" in {spec.name for spec in jetson_source.metrics()}  # waited for its first line
    finally:
        for collector in collectors:
            collector.close()
