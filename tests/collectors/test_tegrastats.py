"""The tegrastats parser over real lines from every board generation in tests/fixtures/tegrastats."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from device_runtime.tegrastats import parse_line

LINES = Path(__file__).resolve().parents[1] / "fixtures" / "tegrastats"
ALL = sorted(p.stem for p in LINES.glob("*.txt"))

EXPECTED: dict[str, dict[str, Any]] = {
    "jetson-nano-jp4": {"ram": (1501, 3956), "cores": 4, "core0": (16, 1479), "gpu": (28, 76), "emc": (4, 1600),
                        "temps": {"GPU": 41.5, "thermal": 42.5}, "rail": ("POM_5V_IN", 4122, 3107)},
    "jetson-tx1-l4t28": {"ram": (3607, 3983), "cores": 4, "core0": (17, 1734), "gpu": (39, 76), "emc": (1, 1600),
                         "swap": (873, 8192, 281)},
    "agx-xavier-jp42": {"ram": (14700, 15692), "cores": 8, "core0": (0, 1190), "gpu": (0, None),
                        "rail": ("SYS5V", 3306, 3306), "temps": {"Tdiode": 32.0}},
    "agx-orin-jp5": {"ram": (4321, 62801), "cores": 12, "core0": (0, 729), "gpu": (0, 0), "emc": (0, 2133),
                     "rail": ("VIN_SYS_5V0", 4025, 4025), "temps": {"tj": 44.343, "GPU": -256.0},
                     "timestamp": "04-11-2025 10:36:27"},
    "agx-orin-jp7": {"ram": (20642, 62817), "cores": 12, "core0": (23, 2201), "gpu": (12, 1300), "emc": (3, 3199),
                     "rail": ("VDD_CPU_CV", 3268, 3268), "temps": {"cpu": 52.968}, "off": "NVDLA1"},
    "thor-jp7-loaded": {"ram": (8353, 125749), "cores": 4, "core0": (90, 2601), "gpu": (87, 1574),
                        "emc": (34, 4266), "rail": ("VIN", 124486, 36487), "temps": {"soc345": 55.812}},
    "thor-jp7-idle": {"ram": (3429, 125749), "cores": 3, "core0": (0, 2601), "gpu": (None, 1574),
                      "emc": (None, 4266), "rail": ("VDD_GPU", 6330, 6330)},
}


def test_every_line_has_expectations() -> None:
    assert set(ALL) == set(EXPECTED) and len(ALL) >= 6


@pytest.mark.parametrize("name", ALL)
def test_parse_real_line(name: str) -> None:
    sample = parse_line((LINES / f"{name}.txt").read_text())
    want = EXPECTED[name]
    assert (sample.ram_used_mb, sample.ram_total_mb) == want["ram"]
    assert len(sample.cpus) == want["cores"]
    assert (sample.cpus[0].load, sample.cpus[0].freq_mhz) == want["core0"]
    gpu = sample.gpu
    assert gpu is not None and (gpu.load, gpu.freq_mhz) == want["gpu"]
    if "emc" in want:
        assert sample.emc is not None and (sample.emc.load, sample.emc.freq_mhz) == want["emc"]
    if "rail" in want:
        rail, current, average = want["rail"]
        assert (sample.rails[rail].current_mw, sample.rails[rail].average_mw) == (current, average)
    for sensor, degrees in want.get("temps", {}).items():
        assert sample.temps[sensor] == degrees
    if "swap" in want:
        assert (sample.swap_used_mb, sample.swap_total_mb, sample.swap_cached_mb) == want["swap"]
    if "off" in want:
        assert sample.engines[want["off"]].on is False
    assert sample.timestamp == want.get("timestamp", sample.timestamp)
    assert sample.unknown == []
    assert "NC" not in sample.rails


def test_thor_offline_core_and_per_gpc_clocks() -> None:
    sample = parse_line((LINES / "thor-jp7-loaded.txt").read_text())
    assert sample.cpus[2].online is False and sample.cpus[2].load is None
    assert sample.gpu is not None and sample.gpu.freqs_mhz == [1574.0, 1574.0, 1574.0]
    assert sample.rails["VIN"].max_mw == 124486.0
    assert sample.engines["NVENC0"].freq_mhz == 1691.0


def test_unknown_tokens_are_kept_and_nothing_raises() -> None:
    sample = parse_line("RAM 1/2MB FUTURE_TOKEN value GR3D_FREQ 5%@[300,off] cpu@40C")
    assert sample.unknown == ["FUTURE_TOKEN", "value"]
    assert sample.gpu is not None and sample.gpu.freqs_mhz == [300.0]
    assert parse_line("").cpus == [] and parse_line("garbage ][ @@ %%").unknown
