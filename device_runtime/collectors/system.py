"""CPU, memory, swap, disk and network through psutil: the base every device has."""

from __future__ import annotations

import time
from typing import Callable, Dict, List, Optional

from device_runtime.collectors.base import Collector, RateTracker
from device_runtime.protocol import MetricSpec

_MB = 1024.0 * 1024.0


class SystemCollector(Collector):
    name = "system"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        import psutil

        self._psutil = psutil
        self._clock = clock
        self._cores = psutil.cpu_count(logical=True) or 1
        self._mem_total = psutil.virtual_memory().total / _MB
        self._swap_total = psutil.swap_memory().total / _MB
        self._rates = RateTracker()
        self._has_disk = psutil.disk_io_counters() is not None
        self._has_net = psutil.net_io_counters() is not None
        psutil.cpu_percent(percpu=True)  # prime: the first call has no interval to measure

    def metrics(self) -> List[MetricSpec]:
        specs = [
            MetricSpec("cpu.load", "total", "%", "CPU", "CPU load", min=0, max=100,
                       description="Busy share of all cores"),
        ]
        specs += [
            MetricSpec("cpu.core.%d.load" % i, "core %d" % i, "%", "CPU", "Load per core", min=0, max=100)
            for i in range(self._cores)
        ]
        specs += [
            MetricSpec("mem.used", "RAM used", "MB", "Memory", "Memory", min=0, max=self._mem_total,
                       description="Memory in use (total minus available)"),
            MetricSpec("mem.swap_used", "swap used", "MB", "Memory", "Memory", min=0,
                       max=self._swap_total or None),
        ]
        if self._has_disk:
            specs += [
                MetricSpec("disk.read", "read", "B/s", "Disk & network", "Disk I/O", min=0),
                MetricSpec("disk.write", "write", "B/s", "Disk & network", "Disk I/O", min=0),
            ]
        if self._has_net:
            specs += [
                MetricSpec("net.rx", "received", "B/s", "Disk & network", "Network", min=0),
                MetricSpec("net.tx", "sent", "B/s", "Disk & network", "Network", min=0),
            ]
        return specs

    def collect(self) -> Dict[str, float]:
        ps = self._psutil
        out: Dict[str, float] = {}
        per_core = ps.cpu_percent(percpu=True)
        if per_core:
            out["cpu.load"] = sum(per_core) / len(per_core)
            for i, load in enumerate(per_core):
                out["cpu.core.%d.load" % i] = load
        vm = ps.virtual_memory()
        out["mem.used"] = (vm.total - vm.available) / _MB
        out["mem.swap_used"] = ps.swap_memory().used / _MB
        now = self._clock()
        if self._has_disk:
            disk = ps.disk_io_counters()
            if disk is not None:
                self._put_rate(out, "disk.read", disk.read_bytes, now)
                self._put_rate(out, "disk.write", disk.write_bytes, now)
        if self._has_net:
            net = ps.net_io_counters()
            if net is not None:
                self._put_rate(out, "net.rx", net.bytes_recv, now)
                self._put_rate(out, "net.tx", net.bytes_sent, now)
        return out

    def _put_rate(self, out: Dict[str, float], key: str, value: float, now: float) -> None:
        rate: Optional[float] = self._rates.rate(key, value, now)
        if rate is not None:
            out[key] = rate

    def absent(self) -> Dict[str, str]:
        missing = {}
        if not self._has_disk:
            missing["disk"] = "no block device statistics (/proc/diskstats unreadable)"
        if not self._has_net:
            missing["net"] = "no network statistics (/proc/net/dev unreadable)"
        if not self._swap_total:
            missing["mem.swap_used"] = "no swap configured"
        return missing
