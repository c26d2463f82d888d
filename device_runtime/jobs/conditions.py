"""The device's conditions during a GPU job, from telemetry samples, and what they mean.

Numbers from a run during which the GPU throttled (thermal or power slowdown in the NVML
clocks-event mask) or, on a Jetson, with clocks not pinned by jetson_clocks, are not comparable
with other runs; the result says so in words next to its numbers.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Set

from device_runtime.collectors.nvml import decode_throttle_reasons
from device_runtime.jobs.energy import EnergyMeter
from device_runtime.protocol import BenchmarkResult, RunConditions

# NVML clocks-event reasons (as the NVML collector names them) that mean "slowed down": power
# caps, thermal and hardware slowdowns. Idle, application-clock, sync-boost and display-clock
# reasons are not throttling.
THROTTLING = ("software power cap", "hardware slowdown", "sw thermal slowdown", "hw thermal slowdown",
              "hw power brake slowdown")
_THROTTLE_METRIC = re.compile(r"^gpu\.(\d+)\.throttle_reasons$")
_GPU_TEMP = re.compile(r"^gpu\.(\d+)\.temp$")


class ConditionsRecorder:
    def __init__(self, is_jetson: bool, power_mode: Optional[str] = None) -> None:
        self.is_jetson = is_jetson
        self.power_mode = power_mode
        self.temperatures: Dict[str, float] = {}
        self.reasons: Set[str] = set()
        self.clocks_seen: List[bool] = []
        self.samples = 0
        self.energy = EnergyMeter()

    def add(self, values: Dict[str, float], t: Optional[float] = None) -> None:
        self.samples += 1
        if t is not None:
            self.energy.add(t, values)
        for name, value in values.items():
            zone = None
            if name.startswith("temp."):
                zone = name[len("temp."):]
            else:
                match = _GPU_TEMP.match(name)
                if match:
                    zone = "gpu%s" % match.group(1)
            if zone is not None:
                self.temperatures[zone] = max(value, self.temperatures.get(zone, value))
                continue
            match = _THROTTLE_METRIC.match(name)
            if match:
                for reason in decode_throttle_reasons(int(value)):
                    if reason in THROTTLING:
                        self.reasons.add("gpu%s: %s" % (match.group(1), reason))
        locked = values.get("jetson.clocks_locked")
        if locked is not None:
            self.clocks_seen.append(locked >= 0.5)
        mode = values.get("jetson.power_mode")
        if mode is not None and self.power_mode is None:
            self.power_mode = "nvpmodel %d" % int(mode)

    def conditions(self) -> RunConditions:
        clocks: Optional[bool] = all(self.clocks_seen) if self.clocks_seen else None
        return RunConditions(
            power_mode=self.power_mode,
            clocks_locked=clocks,
            temperatures_c=dict(self.temperatures),
            throttled=bool(self.reasons),
            throttle_reasons=sorted(self.reasons),
        )

    def add_energy(self, result: BenchmarkResult, warmup_s: float) -> None:
        """Mean power and mJ per inference over the measured window (after the warm-up) of ``result``."""
        start = result.started + warmup_s
        end = start + result.duration_s
        inferences = round(result.throughput_qps * result.duration_s)
        mean_w, energy, source, note = self.energy.per_inference(start, end, inferences)
        result.mean_power_w, result.energy_mj_per_inference = mean_w, energy
        result.power_source, result.energy_note = source, note

    def not_comparable(self) -> List[str]:
        """Why a run's numbers should not be compared with others; empty when they may be."""
        why: List[str] = []
        if self.reasons:
            why.append("the GPU throttled during the run (%s); let it cool down or raise its power limit and "
                       "run again" % ", ".join(sorted(self.reasons)))
        if self.is_jetson and self.clocks_seen and not all(self.clocks_seen):
            why.append("clocks were not locked during the run; run 'sudo jetson_clocks' first so clocks stay at "
                       "the power mode's maximum")
        return why
