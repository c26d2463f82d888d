"""CPU, memory, swap, disk and network from procfs: the base every Linux device has.

Reads /proc/stat, /proc/meminfo, /proc/diskstats and /proc/net/dev through files held open
and re-read with pread, which costs a fraction of psutil's per-call parsing. ``proc_root`` and
``sys_root`` are parameters so tests run the collector on fixture trees.
"""

from __future__ import annotations

import os
import re
import time
from typing import Callable, Dict, List, Optional, Tuple

from device_runtime.collectors.base import Collector
from device_runtime.protocol import MetricSpec

_KB_TO_MB = 1.0 / 1024.0
_SECTOR = 512  # /proc/diskstats counts 512-byte sectors whatever the device's block size
_SKIP_DISKS = ("loop", "ram", "zram", "fd", "sr")
_RATE_NAMES = {"disk": ("disk.read", "disk.write"), "net": ("net.rx", "net.tx")}


class _ProcFile:
    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDONLY)

    def read(self) -> bytes:
        first = os.pread(self.fd, 65536, 0)
        if len(first) < 65536:  # the usual case: one read
            return first
        chunks = [first]
        offset = len(first)
        while True:
            chunk = os.pread(self.fd, 65536, offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
            if len(chunk) < 65536:
                break
        return b"".join(chunks)

    def close(self) -> None:
        os.close(self.fd)


def _open(path: str) -> Optional[_ProcFile]:
    try:
        return _ProcFile(path)
    except OSError:
        return None


def parse_cpu_times(text: bytes) -> List[Tuple[int, int]]:
    """Per-core (busy, total) jiffies from /proc/stat, in core order."""
    out = []
    # The per-core lines come first; the long "intr" line after them is never split.
    pos = text.find(b"\ncpu0") + 1
    while pos > 0 and text.startswith(b"cpu", pos):
        end = text.find(b"\n", pos)
        end = len(text) if end < 0 else end
        fields = [int(x) for x in text[pos:end].split()[1:9]]
        total = sum(fields)  # user..steal; guest time is already in user
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        out.append((total - idle, total))
        pos = end + 1
    return out


_MEM_KEYS = re.compile(rb"^(MemTotal|MemAvailable|MemFree|SwapTotal|SwapFree):\s+(\d+)", re.MULTILINE)


def parse_meminfo(text: bytes) -> Dict[bytes, int]:
    """The five /proc/meminfo fields the collector uses, in kB. One regex pass instead of
    splitting all ~50 lines: this is the hottest parse at 10 Hz."""
    return {key: int(value) for key, value in _MEM_KEYS.findall(text)}


def parse_diskstats(text: bytes, disks: List[str]) -> Tuple[int, int]:
    """Bytes read and written, summed over whole disks (partitions would double count)."""
    wanted = {d.encode() for d in disks}
    read = written = 0
    for line in text.split(b"\n"):
        parts = line.split()
        if len(parts) >= 10 and parts[2] in wanted:
            read += int(parts[5]) * _SECTOR
            written += int(parts[9]) * _SECTOR
    return read, written


def parse_net_dev(text: bytes) -> Tuple[int, int]:
    """Bytes received and sent over every interface but loopback."""
    rx = tx = 0
    for line in text.split(b"\n")[2:]:
        name, _, rest = line.partition(b":")
        parts = rest.split()
        if len(parts) >= 9 and name.strip() != b"lo":
            rx += int(parts[0])
            tx += int(parts[8])
    return rx, tx


class SystemCollector(Collector):
    name = "system"

    def __init__(self, proc_root: str = "/proc", sys_root: str = "/sys",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last_counts: Dict[str, Tuple[float, int, int]] = {}
        self._stat = _open(os.path.join(proc_root, "stat"))
        self._meminfo = _open(os.path.join(proc_root, "meminfo"))
        self._diskstats = _open(os.path.join(proc_root, "diskstats"))
        self._netdev = _open(os.path.join(proc_root, "net", "dev"))
        try:
            block = os.listdir(os.path.join(sys_root, "block"))
        except OSError:
            block = []
        self._disks = sorted(d for d in block if not d.startswith(_SKIP_DISKS))
        self._cores = len(parse_cpu_times(self._stat.read())) if self._stat else 0
        self._core_names = ["cpu.core.%d.load" % i for i in range(self._cores)]
        mem = parse_meminfo(self._meminfo.read()) if self._meminfo else {}
        self._mem_total = mem.get(b"MemTotal", 0) * _KB_TO_MB
        self._swap_total = mem.get(b"SwapTotal", 0) * _KB_TO_MB
        self._last_cpu: List[Tuple[int, int]] = []
        if self._stat:
            self._last_cpu = parse_cpu_times(self._stat.read())

    def metrics(self) -> List[MetricSpec]:
        specs = []
        if self._cores:
            specs.append(MetricSpec("cpu.load", "total", "%", "CPU", "CPU load", min=0, max=100,
                                    description="Busy share of all cores"))
            specs += [
                MetricSpec("cpu.core.%d.load" % i, "core %d" % i, "%", "CPU", "Load per core", min=0, max=100)
                for i in range(self._cores)
            ]
        if self._mem_total:
            specs.append(MetricSpec("mem.used", "RAM used", "MB", "Memory", "Memory", min=0, max=self._mem_total,
                                    description="Memory in use (total minus available)"))
            specs.append(MetricSpec("mem.swap_used", "swap used", "MB", "Memory", "Memory", min=0,
                                    max=self._swap_total or None))
        if self._diskstats and self._disks:
            specs += [
                MetricSpec("disk.read", "read", "B/s", "Disk & network", "Disk I/O", min=0),
                MetricSpec("disk.write", "write", "B/s", "Disk & network", "Disk I/O", min=0),
            ]
        if self._netdev:
            specs += [
                MetricSpec("net.rx", "received", "B/s", "Disk & network", "Network", min=0),
                MetricSpec("net.tx", "sent", "B/s", "Disk & network", "Network", min=0),
            ]
        return specs

    def collect(self) -> Dict[str, float]:
        out: Dict[str, float] = {}
        if self._stat:
            self._collect_cpu(out)
        if self._meminfo and self._mem_total:
            mem = parse_meminfo(self._meminfo.read())
            available = mem.get(b"MemAvailable", mem.get(b"MemFree", 0))
            out["mem.used"] = (mem.get(b"MemTotal", 0) - available) * _KB_TO_MB
            out["mem.swap_used"] = (mem.get(b"SwapTotal", 0) - mem.get(b"SwapFree", 0)) * _KB_TO_MB
        now = self._clock()
        if self._diskstats and self._disks:
            self._put_rates(out, "disk", parse_diskstats(self._diskstats.read(), self._disks), now)
        if self._netdev:
            self._put_rates(out, "net", parse_net_dev(self._netdev.read()), now)
        return out

    def _collect_cpu(self, out: Dict[str, float]) -> None:
        assert self._stat is not None
        current = parse_cpu_times(self._stat.read())
        busy_sum = total_sum = 0
        names = self._core_names
        for i, ((busy, total), (old_busy, old_total)) in enumerate(zip(current, self._last_cpu)):
            d_total = total - old_total
            d_busy = busy - old_busy
            busy_sum += d_busy
            total_sum += d_total
            if d_total > 0 and i < len(names):
                out[names[i]] = max(0.0, min(100.0, 100.0 * d_busy / d_total))
        if total_sum > 0:
            out["cpu.load"] = max(0.0, min(100.0, 100.0 * busy_sum / total_sum))
        self._last_cpu = current

    def _put_rates(self, out: Dict[str, float], kind: str, counts: Tuple[int, int], now: float) -> None:
        """Bytes per second since the previous sample; none on the first one or after a counter
        reset (a driver reload), never a fake zero."""
        last = self._last_counts.get(kind)
        self._last_counts[kind] = (now, counts[0], counts[1])
        if last is None or now <= last[0] or counts[0] < last[1] or counts[1] < last[2]:
            return
        span = now - last[0]
        first, second = _RATE_NAMES[kind]
        out[first] = (counts[0] - last[1]) / span
        out[second] = (counts[1] - last[2]) / span

    def absent(self) -> Dict[str, str]:
        missing = {}
        if not self._stat:
            missing["cpu"] = "/proc/stat is not readable"
        if not self._meminfo:
            missing["mem"] = "/proc/meminfo is not readable"
        if not (self._diskstats and self._disks):
            missing["disk"] = "no block devices with statistics (/proc/diskstats, /sys/block)"
        if not self._netdev:
            missing["net"] = "/proc/net/dev is not readable"
        if self._meminfo and not self._swap_total:
            missing["mem.swap_used"] = "no swap configured"
        return missing

    def close(self) -> None:
        for handle in (self._stat, self._meminfo, self._diskstats, self._netdev):
            if handle is not None:
                handle.close()
