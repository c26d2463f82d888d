"""The base collectors on procfs/sysfs trees given as roots, and on this machine."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from device_runtime.collectors.system import SystemCollector, parse_cpu_times, parse_diskstats, parse_net_dev
from device_runtime.collectors.thermal import ThermalCollector

STAT_1 = b"""cpu  100 0 100 800 0 0 0 0 0 0
cpu0 50 0 50 400 0 0 0 0 0 0
cpu1 50 0 50 400 0 0 0 0 0 0
intr 1 2 3
"""
STAT_2 = b"""cpu  250 0 150 1000 0 0 0 0 0 0
cpu0 150 0 100 450 0 0 0 0 0 0
cpu1 100 0 50 550 0 0 0 0 0 0
intr 1 2 3
"""
MEMINFO = b"""MemTotal:        8000000 kB
MemFree:         1000000 kB
MemAvailable:    6000000 kB
SwapTotal:       2048000 kB
SwapFree:        1024000 kB
"""
DISKSTATS_1 = b"""   7       0 loop0 10 0 100 0 0 0 0 0 0 0 0
 259       0 nvme0n1 100 0 2000 10 50 0 4000 20 0 30 30
 259       1 nvme0n1p1 90 0 1900 10 40 0 3900 20 0 30 30
"""
DISKSTATS_2 = b"""   7       0 loop0 10 0 999999 0 0 0 0 0 0 0 0
 259       0 nvme0n1 100 0 4048 10 50 0 8096 20 0 30 30
 259       1 nvme0n1p1 90 0 3948 10 40 0 7996 20 0 30 30
"""
NETDEV_1 = b"""Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier
    lo:  5000      10    0    0    0     0          0         0     5000      10    0    0    0     0       0          0
  eth0: 10000     100    0    0    0     0          0         0    20000     200    0    0    0     0       0          0
"""
NETDEV_2 = NETDEV_1.replace(b"  eth0: 10000", b"  eth0: 60000").replace(b"20000     200", b"21000     200")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _tree(root: Path, stat: bytes, diskstats: bytes, netdev: bytes) -> None:
    (root / "proc" / "net").mkdir(parents=True, exist_ok=True)
    (root / "sys" / "block" / "nvme0n1").mkdir(parents=True, exist_ok=True)
    (root / "sys" / "block" / "loop0").mkdir(parents=True, exist_ok=True)
    (root / "proc" / "stat").write_bytes(stat)
    (root / "proc" / "meminfo").write_bytes(MEMINFO)
    (root / "proc" / "diskstats").write_bytes(diskstats)
    (root / "proc" / "net" / "dev").write_bytes(netdev)


def test_system_collector_computes_loads_and_rates_from_a_tree(tmp_path: Path) -> None:
    _tree(tmp_path, STAT_1, DISKSTATS_1, NETDEV_1)
    clock = Clock()
    c = SystemCollector(proc_root=str(tmp_path / "proc"), sys_root=str(tmp_path / "sys"), clock=clock)
    names = [m.name for m in c.metrics()]
    assert names == ["cpu.load", "cpu.core.0.load", "cpu.core.1.load", "mem.used", "mem.swap_used",
                     "disk.read", "disk.write", "net.rx", "net.tx"]
    first = c.collect()
    assert "disk.read" not in first and "net.rx" not in first  # a rate needs two readings
    _tree(tmp_path, STAT_2, DISKSTATS_2, NETDEV_2)  # same files rewritten: held fds see new data
    clock.now += 2.0
    values = c.collect()
    assert values["cpu.core.0.load"] == pytest.approx(100 * 150 / 200)
    assert values["cpu.core.1.load"] == pytest.approx(100 * 50 / 200)
    assert values["cpu.load"] == pytest.approx(100 * 200 / 400)
    assert values["mem.used"] == pytest.approx(2000000 / 1024)
    assert values["mem.swap_used"] == pytest.approx(1024000 / 1024)
    assert values["disk.read"] == pytest.approx(2048 * 512 / 2.0)  # loop0 and partitions ignored
    assert values["disk.write"] == pytest.approx(4096 * 512 / 2.0)
    assert values["net.rx"] == pytest.approx(50000 / 2.0) and values["net.tx"] == pytest.approx(1000 / 2.0)
    c.close()


def test_missing_proc_files_are_absent_with_reasons(tmp_path: Path) -> None:
    c = SystemCollector(proc_root=str(tmp_path / "nothing"), sys_root=str(tmp_path / "nothing"))
    assert c.metrics() == [] and c.collect() == {}
    assert set(c.absent()) == {"cpu", "mem", "disk", "net"}


def test_system_collector_on_this_machine() -> None:
    c = SystemCollector()
    c.collect()
    start = time.monotonic()
    while time.monotonic() - start < 0.05:  # let the kernel's jiffy counters move
        pass
    values = c.collect()
    assert 0 <= values["cpu.load"] <= 100 and values["mem.used"] > 0
    c.close()


def test_parsers_ignore_noise() -> None:
    assert parse_cpu_times(b"cpu  1 2 3 4\nintr 5\n") == []
    assert parse_diskstats(b"garbage\n", ["sda"]) == (0, 0)
    assert parse_net_dev(b"h1\nh2\n") == (0, 0)


def _zone(root: Path, n: int, kind: str, milli: str) -> None:
    zone = root / "class" / "thermal" / ("thermal_zone%d" % n)
    zone.mkdir(parents=True)
    (zone / "type").write_text(kind + "\n")
    (zone / "temp").write_text(milli + "\n")


def test_thermal_zones_by_type_and_unreadable_ones_absent(tmp_path: Path) -> None:
    _zone(tmp_path, 0, "CPU-therm", "41500")
    _zone(tmp_path, 1, "GPU-therm", "39000")
    _zone(tmp_path, 2, "CPU-therm", "42000")
    _zone(tmp_path, 10, "tj-therm", "not-a-number")
    hw = tmp_path / "class" / "hwmon" / "hwmon0"
    hw.mkdir(parents=True)
    (hw / "name").write_text("coretemp\n")
    (hw / "temp1_input").write_text("55000\n")
    (hw / "temp1_label").write_text("Package id 0\n")
    c = ThermalCollector(sys_root=str(tmp_path))
    specs = {m.name: m for m in c.metrics()}
    assert list(specs) == ["temp.cpu-therm", "temp.gpu-therm", "temp.cpu-therm_1", "temp.coretemp_package_id_0"]
    assert all(m.unit == "°C" and m.group == "Temperature" for m in specs.values())
    assert c.collect() == {"temp.cpu-therm": 41.5, "temp.gpu-therm": 39.0, "temp.cpu-therm_1": 42.0,
                           "temp.coretemp_package_id_0": 55.0}
    assert "thermal.thermal_zone10" in c.absent()
    c.close()


def test_no_sensors_is_reported_not_zero(tmp_path: Path) -> None:
    c = ThermalCollector(sys_root=str(tmp_path))
    assert c.metrics() == [] and c.collect() == {}
    assert "no readable thermal zones" in c.absent()["thermal"]
