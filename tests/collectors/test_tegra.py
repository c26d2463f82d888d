"""TegraCollector and ThermalCollector on committed sysfs/procfs trees from real boards."""

from __future__ import annotations

from pathlib import Path

import pytest

from device_runtime.collectors.tegra import TegraCollector, parse_l4t, parse_power_modes, read_board
from device_runtime.collectors.thermal import ThermalCollector

BOARDS = Path(__file__).resolve().parents[1] / "fixtures" / "boards"
ALL = sorted(p.name for p in BOARDS.iterdir() if p.is_dir() and p.name != "identity")  # identity/: device tree only

# Values each tree documents (see tests/fixtures/boards/README.md for where they come from).
EXPECTED = {
    "orin-nano": {"power.vdd_in": 4984 * 1856 / 1000, "jetson.gpu.freq_max": 1020.0, "cpu.core.5.freq": 1728.0,
                  "jetson.power_mode": 2.0, "jetson.clocks_locked": 0.0, "jetson.gpu.load": 0.0,
                  "cpu.core.5.freq_max": 1728.0, "jetson.oc.1.events": 1.0, "jetson.oc.2.events": 0.0,
                  "jetson.oc.3.events": 2.0, "jetson.current_alarm.vdd_in.crit": 0.0},
    "orin-nx-16gb": {"power.vdd_in": 30096.0, "cpu.core.5.freq": 1984.0, "cpu.core.0.freq": 1728.0,
                     "jetson.gpu.load": 99.5, "fan.0.rpm": 4520.0},
    "agx-orin": {"power.vin_sys_5v0": 4025.0, "jetson.gpu.freq_max": 1300.5, "cpu.core.11.freq": 729.6,
                 "cpu.core.11.freq_max": 2201.6},
    "agx-xavier": {"power.soc": 19168 * 153 / 1000, "power.sys5v": 4960 * 666 / 1000, "jetson.clocks_locked": 1.0,
                   "jetson.gpu.freq": 1377.0},
    "thor": {"power.vin": 28906.0, "power.vdd_gpu": 6330.0, "jetson.gpu.freq": 1574.0, "jetson.emc.freq": 4266.0,
             "cpu.core.13.freq": 2601.0, "jetson.power_mode": 1.0},
    "jetson-nano": {"power.pom_5v_in": 4122.0, "power.pom_5v_gpu": 109.0, "power.pom_5v_cpu": 1167.0,
                    "jetson.gpu.load": 28.0, "jetson.gpu.freq": 76.8, "cpu.core.3.freq": 1479.0},
}
STATE = {
    "orin-nano": {"power_mode": "MAXN_SUPER", "l4t": "36.4.7", "jetson_clocks": "off"},
    "orin-nx-16gb": {"power_mode": "MAXN", "l4t": "35.4.1"},
    "agx-orin": {"power_mode": "MAXN", "board": "Jetson AGX Orin 32GB (developer kit)",
                 "model": "NVIDIA Jetson AGX Orin Developer Kit"},
    "agx-xavier": {"jetson_clocks": "on", "l4t": "35.1.0"},
    "thor": {"power_mode": "120W", "power_mode_id": "1", "l4t": "38.2.0",
             "board": "Jetson AGX Thor",
             "model": "NVIDIA Jetson AGX Thor Developer Kit"},
    "jetson-nano": {"power_mode": "MAXN", "l4t": "32.7.1", "board": "Jetson Nano 4GB",
                    "model": "NVIDIA Jetson Nano Developer Kit"},
}


def tegra(board: str) -> TegraCollector:
    root = BOARDS / board
    return TegraCollector(str(root / "sys"), str(root / "proc"), str(root / "etc"), str(root / "var"))


def test_every_documented_board_has_a_tree() -> None:
    assert set(EXPECTED) <= set(ALL)


@pytest.mark.parametrize("board", ALL)
def test_tegra_reads_documented_values(board: str) -> None:
    collector = tegra(board)
    try:
        values = collector.collect()
        for name, expected in EXPECTED.get(board, {}).items():
            assert values[name] == pytest.approx(expected), name
        assert collector.readable()
    finally:
        collector.close()


@pytest.mark.parametrize("board", ALL)
def test_tegra_declares_exactly_what_it_collects(board: str) -> None:
    collector = tegra(board)
    try:
        names = [spec.name for spec in collector.metrics()]
        assert len(names) == len(set(names))
        assert set(collector.collect()) == set(names)
        for spec in collector.metrics():
            assert spec.group and spec.chart and spec.label
        power = [s for s in collector.metrics() if s.name.startswith("power.")]
        assert power and all(s.unit == "mW" and s.chart == "Power rails" for s in power)
        assert all(s.name not in collector.absent() for s in collector.metrics())
    finally:
        collector.close()


@pytest.mark.parametrize("board", ALL)
def test_tegra_state(board: str) -> None:
    collector = tegra(board)
    try:
        state = collector.state()
        for key, expected in STATE.get(board, {}).items():
            assert state[key] == expected
    finally:
        collector.close()


@pytest.mark.parametrize("board", ALL)
def test_thermal_reads_every_tree(board: str) -> None:
    collector = ThermalCollector(sys_root=str(BOARDS / board / "sys"))
    try:
        values = collector.collect()
        assert values and set(values) == {s.name for s in collector.metrics()}
        assert all(-40 <= v <= 125 for v in values.values())
    finally:
        collector.close()


def test_unconnected_channels_and_shunt_sum_are_not_rails() -> None:
    collector = tegra("agx-orin")
    try:
        labels = {s.label for s in collector.metrics() if s.name.startswith("power.")}
        assert labels == {"VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0", "VDDQ_VDD2_1V8AO"}
    finally:
        collector.close()


def test_thor_leaves_out_what_it_cannot_read_and_says_why() -> None:
    collector = tegra("thor")
    try:
        values, absent = collector.collect(), collector.absent()
        assert "jetson.gpu.load" not in values and "NVML" in absent["jetson.gpu.load"]
        assert "jetson.gpu.shared_mem" not in values and "NvMapMemUsed" in absent["jetson.gpu.shared_mem"]
    finally:
        collector.close()


@pytest.mark.parametrize("board", ["orin-nano", "agx-orin", "jetson-nano"])
def test_debugfs_only_readings_are_absent_with_a_reason(board: str) -> None:
    collector = tegra(board)
    try:
        assert "jetson.emc.freq" not in collector.collect()
        assert "root" in collector.absent()["jetson.emc.freq"]
        assert "root" in collector.absent()["engine"]
    finally:
        collector.close()


def test_a_file_that_vanishes_is_left_out_not_zero(tmp_path: Path) -> None:
    sys_root = tmp_path / "sys"
    load = sys_root / "devices" / "gpu.0" / "load"
    load.parent.mkdir(parents=True)
    load.write_text("512\n")
    collector = TegraCollector(str(sys_root), str(tmp_path / "proc"), str(tmp_path / "etc"), str(tmp_path / "var"))
    try:
        assert collector.collect() == {"jetson.gpu.load": 51.2}
        load.write_text("garbage\n")
        assert collector.collect() == {}
        assert "jetson.power_mode" in collector.absent()
    finally:
        collector.close()


def test_engine_clocks_when_debugfs_is_readable(tmp_path: Path) -> None:
    # A root-run daemon sees debugfs; paths as listed for AGX Xavier in rbonghi/jetson_stats#360.
    clk = tmp_path / "sys" / "kernel" / "debug" / "clk"
    for name, rate, count in (("nvenc", "1075200000", "1"), ("nvdec", "1075200000", "0")):
        (clk / name).mkdir(parents=True)
        (clk / name / "clk_rate").write_text(rate + "\n")
        (clk / name / "clk_enable_count").write_text(count + "\n")
    collector = TegraCollector(str(tmp_path / "sys"), str(tmp_path), str(tmp_path), str(tmp_path))
    try:
        assert collector.collect() == {"engine.nvenc.freq": 1075.2, "engine.nvdec.freq": 0.0}
        assert "engine" not in collector.absent()
    finally:
        collector.close()


def test_parsers() -> None:
    assert parse_l4t("# R36 (release), REVISION: 4.7, GCID: 42132812, BOARD: generic") == "36.4.7"
    assert parse_l4t("nonsense") is None
    modes, default = parse_power_modes("< POWER_MODEL ID=0 NAME=15W >\nCPU_ONLINE CORE_0 1\n"
                                       "< POWER_MODEL ID=2 NAME=MAXN_SUPER >\n< PM_CONFIG DEFAULT=2 >")
    assert modes == {0: "15W", 2: "MAXN_SUPER"} and default == 2
    board = read_board(str(BOARDS / "thor" / "proc"), str(BOARDS / "thor" / "etc"))
    assert board.model == "NVIDIA Jetson AGX Thor Developer Kit" and board.l4t == "38.2.0"


def test_power_mode_falls_back_to_the_configured_default(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "nvpmodel.conf").write_text("< POWER_MODEL ID=0 NAME=MAXN >\n< POWER_MODEL ID=1 NAME=5W >\n"
                                       "< PM_CONFIG DEFAULT=1 >\n")
    collector = TegraCollector(str(tmp_path / "sys"), str(tmp_path / "proc"), str(etc), str(tmp_path / "var"))
    try:
        assert collector.state()["power_mode"] == "5W"
        assert collector.collect()["jetson.power_mode"] == 1.0
    finally:
        collector.close()


def test_default_collectors_registers_tegra_on_a_jetson_tree() -> None:
    from device_runtime.collectors import default_collectors

    root = BOARDS / "orin-nano"
    collectors = default_collectors(sys_root=str(root / "sys"), proc_root=str(root / "proc"),
                                    etc_root=str(root / "etc"), var_root=str(root / "var"))
    try:
        names = [c.name for c in collectors]
        assert "tegra" in names and "tegrastats" not in names
    finally:
        for collector in collectors:
            collector.close()


def test_default_collectors_skips_tegra_when_not_a_jetson(tmp_path: Path) -> None:
    from device_runtime.collectors import default_collectors

    collectors = default_collectors(sys_root=str(tmp_path), proc_root=str(tmp_path), etc_root=str(tmp_path),
                                    var_root=str(tmp_path), tegrastats_path=str(tmp_path / "tegrastats"))
    try:
        assert not {"tegra", "tegrastats"} & {c.name for c in collectors}
    finally:
        for collector in collectors:
            collector.close()


def test_over_current_counters_and_current_alarms_are_declared_as_data() -> None:
    collector = tegra("orin-nano")
    try:
        specs = {s.name: s for s in collector.metrics()}
        oc3 = specs["jetson.oc.3.events"]
        assert (oc3.kind, oc3.label, oc3.chart) == ("counter", "OC3 instantaneous over-current",
                                                   "Over-current throttling")
        alarm = specs["jetson.current_alarm.vdd_in.crit"]
        assert (alarm.label, alarm.max) == ("VDD_IN critical", 1)
        assert "jetson.oc" not in collector.absent()
    finally:
        collector.close()


@pytest.mark.parametrize("board", ["agx-orin", "jetson-nano", "thor"])
def test_boards_without_over_current_counters_say_so(board: str) -> None:
    collector = tegra(board)
    try:
        assert "soctherm_oc" in collector.absent()["jetson.oc"]
        assert not any(s.name.startswith("jetson.oc.") for s in collector.metrics())
    finally:
        collector.close()


def test_thermal_trip_points_of_the_agx_orin_device_tree() -> None:
    collector = ThermalCollector(sys_root=str(BOARDS / "agx-orin" / "sys"))
    try:
        trips = collector.trips()
        assert trips["temp.cpu-thermal"] == {"critical": 104.5, "passive": 99.0}
        assert trips["temp.tj-thermal"] == {"critical": 104.5}
    finally:
        collector.close()


def test_disabled_trip_points_are_left_out(tmp_path: Path) -> None:
    zone = tmp_path / "class" / "thermal" / "thermal_zone0"
    zone.mkdir(parents=True)
    for name, text in (("type", "x86_pkg_temp"), ("temp", "45000"), ("trip_point_0_type", "passive"),
                       ("trip_point_0_temp", "-274000"), ("trip_point_1_type", "critical"),
                       ("trip_point_1_temp", "100000")):
        (zone / name).write_text(text + "\n")
    collector = ThermalCollector(sys_root=str(tmp_path))
    try:
        assert collector.trips() == {"temp.x86_pkg_temp": {"critical": 100.0}}
    finally:
        collector.close()
