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
    for fields in _core_fields(text):
        values = [int(x) for x in fields[1:9]]
        total = sum(values)  # user..steal; guest time is already in user
        idle = values[3] + (values[4] if len(values) > 4 else 0)
        out.append((total - idle, total))
    return out


def _core_fields(text: bytes) -> List[List[bytes]]:
    """The split ``cpuN`` lines of /proc/stat. They come first; the long "intr" line after
    them is never split."""
    start = text.find(b"\ncpu0") + 1
    if not start:
        return []
    stop = text.find(b"\nintr", start)
    out = []
    for line in text[start:stop if stop > 0 else len(text)].split(b"\n"):
        if not line.startswith(b"cpu"):
            break
        out.append(line.split())
    return out


_MEM_KEYS = re.compile(rb"^(MemTotal|MemAvailable|MemFree|SwapTotal|SwapFree):\s+(\d+)", re.MULTILINE)


def parse_meminfo(text: bytes) -> Dict[bytes, int]:
    """The five /proc/meminfo fields the collector uses, in kB. One regex pass instead of
    splitting all ~50 lines: this is the hottest parse at 10 Hz."""
    return {key: int(value) for key, value in _MEM_KEYS.findall(text)}


def _kb(text: bytes, key: bytes) -> int:
    """One /proc/meminfo field in kB, -1 when absent: a find, not a parse of all ~50 lines."""
    at = text.find(key)
    if at < 0:
        return -1
    at += len(key)
    return int(text[at:text.index(b"k", at)])  # int() skips the padding; "kB" follows


def parse_diskstats(text: bytes, disks: List[str]) -> Tuple[int, int]:
    """Bytes read and written, summed over whole disks (partitions would double count)."""
    return _disk_bytes(text, [b" %s " % d.encode() for d in disks])


def _disk_bytes(text: bytes, needles: List[bytes]) -> Tuple[int, int]:
    """:func:`parse_diskstats` with each disk's `` name `` prepared: a find per disk instead
    of splitting every line (loop devices and partitions outnumber disks)."""
    read = written = 0
    for needle in needles:
        at = text.find(needle)
        if at < 0:
            continue
        end = text.find(b"\n", at)
        parts = text[at:end if end > 0 else len(text)].split()
        if len(parts) >= 8:
            read += int(parts[3]) * _SECTOR
            written += int(parts[7]) * _SECTOR
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
        # (time, bytes in, bytes out) at the previous sample: rates need two, so none on the first
        self._last_disk: Tuple[float, int, int] = (float("inf"), 0, 0)
        self._last_net: Tuple[float, int, int] = (float("inf"), 0, 0)
        self._stat = _open(os.path.join(proc_root, "stat"))
        self._meminfo = _open(os.path.join(proc_root, "meminfo"))
        self._diskstats = _open(os.path.join(proc_root, "diskstats"))
        self._netdev = _open(os.path.join(proc_root, "net", "dev"))
        try:
            block = os.listdir(os.path.join(sys_root, "block"))
        except OSError:
            block = []
        self._disks = sorted(d for d in block if not d.startswith(_SKIP_DISKS))
        self._disk_needles = [b" %s " % d.encode() for d in self._disks]
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
        # Few calls and few distinct operations: at 10-20 Hz each sample finds the CPU's caches
        # cold, and the code one sample runs costs as much as the reading itself.
        out: Dict[str, float] = {}
        pread = os.pread
        if self._stat:
            self._collect_cpu(pread(self._stat.fd, 65536, 0), out)  # the cpu lines come first
        if self._meminfo and self._mem_total:
            text = pread(self._meminfo.fd, 65536, 0)
            total, available = _kb(text, b"MemTotal:"), _kb(text, b"MemAvailable:")
            if available < 0:  # kernels before 3.14
                available = _kb(text, b"MemFree:")
            out["mem.used"] = (total - available) * _KB_TO_MB
            out["mem.swap_used"] = (_kb(text, b"SwapTotal:") - _kb(text, b"SwapFree:")) * _KB_TO_MB
        now = self._clock()
        if self._diskstats and self._disk_needles:
            read, written = _disk_bytes(self._diskstats.read(), self._disk_needles)
            last = self._last_disk
            self._last_disk = (now, read, written)
            if now > last[0] and read >= last[1] and written >= last[2]:  # a reset (driver reload): none
                span = now - last[0]
                out["disk.read"] = (read - last[1]) / span
                out["disk.write"] = (written - last[2]) / span
        if self._netdev:
            rx, tx = parse_net_dev(self._netdev.read())
            last = self._last_net
            self._last_net = (now, rx, tx)
            if now > last[0] and rx >= last[1] and tx >= last[2]:
                span = now - last[0]
                out["net.rx"] = (rx - last[1]) / span
                out["net.tx"] = (tx - last[2]) / span
        return out

    def _collect_cpu(self, text: bytes, out: Dict[str, float]) -> None:
        last = self._last_cpu
        current: List[Tuple[int, int]] = []
        busy_sum = total_sum = 0
        names = self._core_names
        start = text.find(b"\ncpu0") + 1
        stop = text.find(b"\nintr", start)
        for line in text[start:stop if stop > 0 else len(text)].split(b"\n") if start else ():
            if not line.startswith(b"cpu"):
                break
            fields = line.split()
            total = sum(map(int, fields[1:9]))  # user..steal; guest time is already in user
            busy = total - int(fields[4]) - (int(fields[5]) if len(fields) > 5 else 0)
            i = len(current)
            current.append((busy, total))
            if i < len(last):
                d_busy, d_total = busy - last[i][0], total - last[i][1]
                busy_sum += d_busy
                total_sum += d_total
                if d_total > 0 and i < len(names):
                    out[names[i]] = max(0.0, min(100.0, 100.0 * d_busy / d_total))
        if total_sum > 0:
            out["cpu.load"] = max(0.0, min(100.0, 100.0 * busy_sum / total_sum))
        self._last_cpu = current

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
