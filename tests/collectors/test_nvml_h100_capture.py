"""Readings the NVML collector took on a real H100 under a PyTorch load (see the fixture README)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from device_runtime.collectors.nvml import decode_throttle_reasons

CAPTURE = json.loads((Path(__file__).parent.parent / "fixtures" / "nvml" / "h100_load.json").read_text())


def _phase(name: str, key: str) -> list[float]:
    return [r["values"][key] for r in CAPTURE["readings"] if r["phase"] == name and key in r["values"]]


def test_utilisation_power_and_temperature_rise_under_load_and_fall_after() -> None:
    idle_util, load_util = _phase("idle", "gpu.0.util"), _phase("load", "gpu.0.util")
    assert max(idle_util) == 0 and statistics.median(load_util) >= 95
    idle_w, load_w, cool_w = _phase("idle", "gpu.0.power"), _phase("load", "gpu.0.power"), _phase("cool", "gpu.0.power")
    assert max(idle_w) < 100 and statistics.median(load_w) > 500 and cool_w[-1] < 200
    assert max(_phase("load", "gpu.0.temp")) - max(_phase("idle", "gpu.0.temp")) >= 15
    assert _phase("cool", "gpu.0.temp")[-1] < max(_phase("load", "gpu.0.temp"))


def test_software_power_cap_is_reported_throughout_the_load() -> None:
    under_load = [r for r in CAPTURE["readings"] if r["phase"] == "load" and r["values"]["gpu.0.util"] > 90]
    assert under_load
    reasons = [decode_throttle_reasons(int(r["values"]["gpu.0.throttle_reasons"])) for r in under_load]
    capped = [r for r in reasons if "software power cap" in r]
    assert len(capped) / len(under_load) > 0.9
    assert decode_throttle_reasons(0x4) == ["software power cap"]


def test_the_capture_declares_units_for_every_metric() -> None:
    units = {m["name"]: m["unit"] for m in CAPTURE["metrics"]}
    assert units["gpu.0.power"] == "W" and units["gpu.0.temp"] == "°C" and units["gpu.0.util"] == "%"
    assert CAPTURE["gpu"]["name"] == "NVIDIA H100 80GB HBM3" and CAPTURE["gpu"]["compute_capability"] == "9.0"
