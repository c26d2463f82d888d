"""Jetson telemetry from the best source that gives values now, chosen again while running.

sysfs (``TegraCollector``) is best. When it gives no GPU clock and no power rail (a container that
lost its /sys mount, a driver unbound for good, nodes a JetPack upgrade moved where nothing looks),
``tegrastats`` is run instead; when that cannot run or stops, procfs is left: CPU load and memory
(the system collector's /proc/stat and /proc/meminfo) and what sysfs' collector still reads from
/proc and /etc (nvmap's memory, the power mode). While on a fallback, sysfs is looked at again every
``RETRY_S`` seconds and taken back as soon as it reads. Each change of source is said once in the
log, and ``sources()`` names the source of every metric read now.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Callable, Dict, List, Optional

from device_runtime.collectors.base import Collector
from device_runtime.collectors.source_watch import RETRY_S
from device_runtime.collectors.tegra import TegraCollector
from device_runtime.collectors.tegrastats_source import TegrastatsCollector
from device_runtime.protocol import MetricSpec

log = logging.getLogger(__name__)

__all__ = ["PROCFS", "RETRY_S", "SYSFS", "TEGRASTATS", "JetsonCollector"]

SYSFS, TEGRASTATS, PROCFS = "sysfs", "tegrastats", "procfs"
# At start the first tegrastats line is waited for (it declares the metrics); while the daemon
# samples, a switch never waits.
FIRST_LINE_AT_START_S = 5.0

# Starts tegrastats; the argument is how long to wait for its first line.
StartTegrastats = Callable[[float], TegrastatsCollector]


class JetsonCollector(Collector):
    """Named ``tegra`` as the sysfs collector it wraps: the doctor and the console see one Jetson source."""

    name = "tegra"

    def __init__(self, sysfs: TegraCollector, start_tegrastats: Optional[StartTegrastats] = None,
                 clock: Callable[[], float] = time.monotonic, retry_s: float = RETRY_S) -> None:
        self.sysfs = sysfs
        self._start_tegrastats = start_tegrastats
        self._clock = clock
        self._retry_s = retry_s
        self._tegrastats: Optional[TegrastatsCollector] = None
        self._retry_at = 0.0
        self._why = ""  # why sysfs is not the source now
        self.source = SYSFS
        if not sysfs.readable():
            self._fall_back(FIRST_LINE_AT_START_S)

    def _sysfs_gone(self) -> str:
        return "sysfs gives no GPU clock and no power rail under %s" % self.sysfs.sys_root

    def _fall_back(self, wait_s: float) -> None:
        self._retry_at = self._clock() + self._retry_s
        why = self._sysfs_gone()
        if self._start_tegrastats is not None:
            tegrastats = self._start_tegrastats(wait_s)
            failure = tegrastats.failure()
            if failure is None:
                self._tegrastats = tegrastats
                self._switch(TEGRASTATS, why)
                return
            tegrastats.close()
            why = "%s; %s" % (why, failure)
        self._switch(PROCFS, why)

    def _switch(self, source: str, why: str) -> None:
        self._why = why if source != SYSFS else ""
        if source == self.source:
            return
        self.source = source
        where = {SYSFS: "sysfs (%s)" % self.sysfs.sys_root,
                 TEGRASTATS: "tegrastats (%s)" % (self._tegrastats.path if self._tegrastats else "?"),
                 PROCFS: "procfs only (CPU load and memory; no GPU or power readings)"}[source]
        log.warning("Jetson telemetry now reads %s: %s", where, why)

    def _stop_tegrastats(self) -> None:
        if self._tegrastats is not None:
            self._tegrastats.close()
            self._tegrastats = None

    def collect(self) -> Dict[str, float]:
        # sysfs is always read: it keeps what it still has (CPU clocks, nvmap, the power mode) and
        # its own watch notices nodes that vanish or move.
        out = self.sysfs.collect()
        if self.source == SYSFS:
            if self.sysfs.readable():
                return out
            self._fall_back(0.0)
        elif self._clock() >= self._retry_at:
            self._retry_at = self._clock() + self._retry_s
            self.sysfs.look_again("looking whether sysfs reads again")
            if self.sysfs.readable():
                self._stop_tegrastats()
                self._switch(SYSFS, "sysfs gives GPU or power readings again")
                return self.sysfs.collect()
        if self._tegrastats is not None:
            failure = self._tegrastats.failure()
            if failure is None:
                out.update(self._tegrastats.collect())
            else:
                self._stop_tegrastats()
                self._switch(PROCFS, "%s; %s" % (self._sysfs_gone(), failure))
        return out

    def metrics(self) -> List[MetricSpec]:
        specs = self.sysfs.metrics()
        if self._tegrastats is not None:
            names = {spec.name for spec in specs}
            specs += [spec for spec in self._tegrastats.metrics() if spec.name not in names]
        return specs

    def sources(self) -> Dict[str, str]:
        out = self.sysfs.sources()
        if self._tegrastats is not None:
            out.update(self._tegrastats.sources())
        elif self.source == PROCFS:
            proc = self.sysfs.proc_root
            out.update({"cpu.load": "%s (system collector)" % os.path.join(proc, "stat"),
                        "mem.used": "%s (system collector)" % os.path.join(proc, "meminfo")})
        return out

    def absent(self) -> Dict[str, str]:
        out = self.sysfs.absent()
        if self._why:
            out["sysfs"] = "%s; reading %s instead" % (self._why, self.source)
        if self._tegrastats is not None:
            out.update(self._tegrastats.absent())
        return out

    def state(self) -> Dict[str, str]:
        return dict(self.sysfs.state(), telemetry_source=self.source)

    def close(self) -> None:
        self._stop_tegrastats()
        self.sysfs.close()
