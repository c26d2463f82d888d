"""Readers look again when a source stops giving values: fixture trees swapped or changed under a
running collector, as a JetPack upgrade, a driver rebind or a container's new mount would.

The collector's clock is a plain number here: a check runs once per second of it.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from device_runtime.collectors.tegra import TegraCollector
from device_runtime.collectors.tegra_devices import fan_nodes
from tests.support.tree_swap import BOARDS, Clock, point, run_checks


def test_swapped_tree_jetpack5_to_jetpack6_layout(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # JetPack 5 Orin: devfreq 17000000.ga10b, load in platform/gpu.0; JetPack 6: devfreq 17000000.gpu,
    # load in platform/bus@0/17000000.gpu. The running collector's files still exist in the old tree.
    jp5, jp6 = tmp_path / "jp5", tmp_path / "jp6"
    shutil.copytree(BOARDS / "orin-nx-16gb", jp5)
    shutil.copytree(BOARDS / "orin-nano", jp6)
    sys_link = tmp_path / "sys"
    sys_link.symlink_to(jp5 / "sys")
    clock = Clock()
    collector = TegraCollector(str(sys_link), str(jp5 / "proc"), str(jp5 / "etc"), str(jp5 / "var"), clock=clock)
    try:
        assert collector.collect()["jetson.gpu.load"] == 99.5
        assert collector.sources()["jetson.gpu.load"] == str(sys_link / "devices/platform/gpu.0/load")
        point(sys_link, jp6 / "sys")
        with caplog.at_level(logging.WARNING, logger="device_runtime.collectors.tegra"):
            values = run_checks(collector, clock)
        new_load = (jp6 / "sys/devices/platform/bus@0/17000000.gpu/load").read_text().strip()
        assert values["jetson.gpu.load"] == int(new_load) / 10.0
        assert collector.sources()["jetson.gpu.load"] == str(sys_link / "devices/platform/bus@0/17000000.gpu/load")
        assert collector.sources()["jetson.gpu.freq"] == str(sys_link / "class/devfreq/17000000.gpu/cur_freq")
        line = ("jetson.gpu.load: now read from %s (was %s)" % (sys_link / "devices/platform/bus@0/17000000.gpu/load",
                                                                 sys_link / "devices/platform/gpu.0/load"))
        assert line in collector.changes and line in caplog.text
        assert "fan.0.pwm" in values and "fan.1.pwm" not in values  # the JetPack 6 tree's one fan
    finally:
        collector.close()


def test_a_vanished_node_selects_the_next_best_path(tmp_path: Path) -> None:
    root = tmp_path / "orin-nano"
    shutil.copytree(BOARDS / "orin-nano", root)
    second = root / "sys/devices/platform/gpu.0/load"  # a later candidate of the load-path list
    second.parent.mkdir(parents=True)
    second.write_text("123\n")
    clock = Clock()
    collector = TegraCollector(*(str(root / p) for p in ("sys", "proc", "etc", "var")), clock=clock)
    try:
        first = root / "sys/devices/platform/bus@0/17000000.gpu/load"
        assert collector.sources()["jetson.gpu.load"] == str(first)
        first.unlink()
        values = run_checks(collector, clock)
        assert values["jetson.gpu.load"] == 12.3 and collector.sources()["jetson.gpu.load"] == str(second)
        second.unlink()
        values = run_checks(collector, clock)
        assert "jetson.gpu.load" not in values and "jetson.gpu.load" not in collector.sources()
        assert collector.changes[-1].startswith("jetson.gpu.load: %s is gone; " % second)
        assert "jetson.gpu.load" in collector.absent()  # declared absent with its reason, never 0
        assert values["jetson.gpu.freq"] > 0  # the rest keeps reading
    finally:
        collector.close()


def test_split_pwm_and_tach_nodes_are_one_fan() -> None:
    # orin-nx-16gb: hwmon0 "pwmfan" has pwm1 only, hwmon1 "pwm_tach" has rpm only.
    hwmon = BOARDS / "orin-nx-16gb/sys/class/hwmon"
    assert fan_nodes(str(BOARDS / "orin-nx-16gb/sys")) == [
        {"pwm": str(hwmon / "hwmon0/pwm1"), "rpm": str(hwmon / "hwmon1/rpm")}]
    collector = TegraCollector(*(str(BOARDS / "orin-nx-16gb" / p) for p in ("sys", "proc", "etc", "var")))
    try:
        fans = sorted(s.name for s in collector.metrics() if s.name.startswith("fan."))
        assert fans == ["fan.0.pwm", "fan.0.rpm"]
    finally:
        collector.close()


def test_two_split_fans_pair_by_device_and_ambiguous_ones_stay_apart(tmp_path: Path) -> None:
    hwmon = tmp_path / "sys/class/hwmon"
    for node, name, files, device in (("hwmon0", "pwmfan", {"pwm1": "128"}, "fan-a"),
                                      ("hwmon1", "pwmfan", {"pwm1": "255"}, "fan-b"),
                                      ("hwmon2", "pwm_tach", {"rpm": "900"}, "fan-b"),
                                      ("hwmon3", "pwm_tach", {"rpm": "1800"}, "fan-c")):
        (hwmon / node).mkdir(parents=True)
        (hwmon / node / "name").write_text(name + "\n")
        for file, value in files.items():
            (hwmon / node / file).write_text(value + "\n")
        (tmp_path / "devices" / device).mkdir(parents=True, exist_ok=True)
        (hwmon / node / "device").symlink_to(tmp_path / "devices" / device)
    assert fan_nodes(str(tmp_path / "sys")) == [
        {"pwm": str(hwmon / "hwmon0/pwm1")},
        {"pwm": str(hwmon / "hwmon1/pwm1"), "rpm": str(hwmon / "hwmon2/rpm")},
        {"rpm": str(hwmon / "hwmon3/rpm")},
    ]


def test_a_metric_that_never_delivers_is_reported_once_as_not_available(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "agx-orin"
    shutil.copytree(BOARDS / "agx-orin", root)
    rail = root / "sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon1/curr2_input"
    rail.write_text("not a number\n")  # opens fine, never parses: a listed rail that never delivers
    clock = Clock()
    collector = TegraCollector(*(str(root / p) for p in ("sys", "proc", "etc", "var")), clock=clock)
    try:
        assert "power.vdd_cpu_cv" in {s.name for s in collector.metrics()}
        with caplog.at_level(logging.WARNING, logger="device_runtime.collectors.tegra"):
            run_checks(collector, clock, 3)  # 3 checks without it: look again, find the same file, give up
            assert "power.vdd_cpu_cv" not in {s.name for s in collector.metrics()}
            volts = rail.with_name("in2_input")
            why = "not available on this board: %s x %s never gave a number" % (volts, rail)
            assert collector.absent()["power.vdd_cpu_cv"] == why
            assert "power.vdd_cpu_cv" not in collector.sources()
            assert collector.collect()["power.vdd_gpu_soc"] > 0  # the other rails keep reading
            run_checks(collector, clock, 6)  # the next look, 6 checks later, finds the same: said once only
        assert caplog.text.count(why) == 1 and collector._misses.limit == 12
        rail.write_text("1000\n")  # the driver answers again: the next look (12 checks later) takes it back
        values = run_checks(collector, clock, 13)
        assert values["power.vdd_cpu_cv"] > 0 and "power.vdd_cpu_cv" not in collector.absent()
    finally:
        collector.close()
