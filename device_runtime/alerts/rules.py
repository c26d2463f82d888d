"""What counts as an alert, decided from one telemetry sample. No time, no state beyond the
previous value of event counters: debouncing and start/end belong to :mod:`.detector`.

Each rule reads metrics the collectors declare (names are the contract):

- NVML ``gpu.N.throttle_reasons`` (nvml.h clocks-event bits): 0x4 software power cap and
  0x80 hardware power brake -> ``power_cap``; 0x20 software thermal, 0x40 hardware thermal and
  0x8 hardware slowdown -> ``thermal_throttle``.
- Jetson: ``jetson.gpu.freq`` / ``jetson.gpu.freq_max`` / ``jetson.gpu.load`` and
  ``cpu.core.N.freq`` / ``freq_max`` / ``load`` -> ``clocks_below_max`` while busy;
  ``jetson.oc.N.events`` rising -> ``power_cap`` (the SoC throttled for over-current or
  under-voltage); ``jetson.current_alarm.<rail>.<level>`` = 1 -> ``power_cap``.
- Every ``temp.*`` and ``gpu.N.temp`` against the thresholds -> ``temperature``, and against the
  zone's own passive trip point -> ``thermal_throttle`` (the kernel lowers clocks there).
"""

from __future__ import annotations

import re
from typing import Dict, List, Mapping, NamedTuple, Optional

from device_runtime.protocol import SEVERITY_CRITICAL, SEVERITY_WARNING, AlertThresholds

NVML_POWER_BITS = {0x4: "software power cap", 0x80: "hardware power brake"}
NVML_THERMAL_BITS = {0x20: "software thermal slowdown", 0x40: "hardware thermal slowdown",
                     0x8: "hardware slowdown (temperature, power brake or a fast power spike)"}
# Sensors that read a fixed value rather than a temperature: Nano/TX2/Xavier "PMIC-Die" always
# reports 100 °C (tegrastats prints PMIC@100C); Orin prints -256 °C for powered-off sensors.
PLACEHOLDER_ZONES = ("pmic-die", "pmic")
_GPU_KEY = re.compile(r"^gpu\.(\d+)\.(throttle_reasons|temp)$")
_CORE_FREQ = re.compile(r"^cpu\.core\.(\d+)\.freq$")
_OC = re.compile(r"^jetson\.oc\.(\d+)\.events$")
_ALARM = re.compile(r"^jetson\.current_alarm\.(.+)\.(crit|warn)$")


class Condition(NamedTuple):
    key: str  # identity across samples: one alert per key at a time
    kind: str
    severity: str
    source: str
    message: str
    metric: Optional[str] = None
    value: Optional[float] = None
    threshold: Optional[float] = None
    higher_is_worse: bool = True
    immediate: bool = False  # an event (a counter step), not a level: starts without waiting hold_s


def _bits(mask: int, table: Mapping[int, str]) -> List[str]:
    return [name for bit, name in table.items() if mask & bit]


def nvml_throttle(values: Mapping[str, float], index: str, mask: int) -> List[Condition]:
    out = []
    power = _bits(mask, NVML_POWER_BITS)
    if power:
        draw, limit = values.get(f"gpu.{index}.power"), values.get(f"gpu.{index}.power_limit")
        detail = f" at {draw:.0f} W of its {limit:.0f} W limit" if draw is not None and limit else ""
        out.append(Condition(
            f"power_cap:gpu{index}", "power_cap", SEVERITY_CRITICAL if mask & 0x80 else SEVERITY_WARNING,
            f"gpu{index}", f"GPU {index} clocks are held down by the {' and '.join(power)}{detail}. "
            "Results measured now are power-limited; compare runs only at the same power limit.",
            f"gpu.{index}.power" if draw is not None else f"gpu.{index}.throttle_reasons", draw, limit))
    thermal = _bits(mask, NVML_THERMAL_BITS)
    if thermal:
        temp = values.get(f"gpu.{index}.temp")
        detail = f" at {temp:.0f} °C" if temp is not None else ""
        out.append(Condition(
            f"thermal_throttle:gpu{index}", "thermal_throttle",
            SEVERITY_CRITICAL if mask & (0x40 | 0x8) else SEVERITY_WARNING, f"gpu{index}",
            f"GPU {index} is slowed by {' and '.join(thermal)}{detail}. Check cooling and airflow.",
            f"gpu.{index}.temp" if temp is not None else f"gpu.{index}.throttle_reasons", temp))
    return out


def zone_limit(limits: Mapping[str, float], name: str, label: str) -> Optional[float]:
    """A per-zone warning override, matched on the zone's type (label), metric name or slug."""
    wanted = {label.lower(), name.lower(), name[5:].lower() if name.startswith("temp.") else name.lower()}
    for key, limit in limits.items():
        if key.lower() in wanted:
            return limit
    return None


def temperature(name: str, value: float, label: str, thresholds: AlertThresholds,
                trips: Mapping[str, float]) -> List[Condition]:
    if value < -40 or label.lower() in PLACEHOLDER_ZONES:
        return []
    out = []
    warning = zone_limit(thresholds.zone_limits_c, name, label)
    warning = thresholds.temperature_warning_c if warning is None else warning
    critical = thresholds.temperature_critical_c
    if value >= warning:
        out.append(Condition(f"temperature:warning:{name}", "temperature", SEVERITY_WARNING, label,
                             f"{label} is at {value:.1f} °C, over its warning limit of {warning:g} °C.",
                             name, value, warning))
    if value >= critical:
        out.append(Condition(f"temperature:critical:{name}", "temperature", SEVERITY_CRITICAL, label,
                             f"{label} is at {value:.1f} °C, over the critical limit of {critical:g} °C. "
                             "Reduce the load or improve cooling before the board protects itself.",
                             name, value, critical))
    passive = trips.get("passive")
    if passive is not None and value >= passive:
        out.append(Condition(f"thermal_throttle:{name}", "thermal_throttle", SEVERITY_WARNING, label,
                             f"{label} is at {value:.1f} °C, at its passive trip point of {passive:g} °C: "
                             "the kernel is lowering clocks to cool it.", name, value, passive))
    return out


def gpu_clocks(values: Mapping[str, float], t: AlertThresholds) -> List[Condition]:
    freq, cap, load = (values.get("jetson.gpu." + k) for k in ("freq", "freq_max", "load"))
    if freq is None or not cap or load is None or load < t.busy_load_pct:
        return []
    floor = cap * t.clocks_below_max_pct / 100.0
    if freq >= floor:
        return []
    return [Condition("clocks_below_max:gpu", "clocks_below_max", SEVERITY_WARNING, "gpu",
                      f"GPU runs at {freq:.0f} MHz while {load:.0f} % busy, below {t.clocks_below_max_pct:g} % "
                      f"of its {cap:.0f} MHz cap: temperature, power or a clock limit is holding it down.",
                      "jetson.gpu.freq", freq, floor, higher_is_worse=False)]


def cpu_clocks(values: Mapping[str, float], t: AlertThresholds) -> List[Condition]:
    slow = []  # (ratio to cap, core, freq, cap)
    for name, freq in values.items():
        match = _CORE_FREQ.match(name)
        if not match:
            continue
        core = match.group(1)
        cap, load = values.get(f"cpu.core.{core}.freq_max"), values.get(f"cpu.core.{core}.load")
        if cap and load is not None and load >= t.busy_load_pct and freq < cap * t.clocks_below_max_pct / 100.0:
            slow.append((freq / cap, core, freq, cap))
    if not slow:
        return []
    _, core, freq, cap = min(slow)
    cores = ", ".join(c for _, c, _, _ in sorted(slow, key=lambda s: int(s[1])))
    return [Condition("clocks_below_max:cpu", "clocks_below_max", SEVERITY_WARNING, "cpu",
                      f"Busy CPU cores ({cores}) run below {t.clocks_below_max_pct:g} % of their clock cap; "
                      f"core {core} is at {freq:.0f} of {cap:.0f} MHz.",
                      f"cpu.core.{core}.freq", freq, cap * t.clocks_below_max_pct / 100.0, higher_is_worse=False)]


def over_current(name: str, number: str, value: float, previous: Optional[float]) -> List[Condition]:
    if previous is None or value <= previous:
        return []
    cause = {"1": "under-voltage", "2": "average over-current", "3": "instantaneous over-current"}.get(
        number, "over-current")
    return [Condition(f"power_cap:oc{number}", "power_cap", SEVERITY_CRITICAL, f"oc{number}",
                      f"The SoC throttled its clocks for {cause} (OC{number}, {value - previous:.0f} new "
                      "event(s)). Check the power supply, cable and carrier board, or use a lower power mode.",
                      name, value, immediate=True)]


def current_alarm(name: str, rail: str, level: str, value: float, label: str) -> List[Condition]:
    if value < 1:
        return []
    severity = SEVERITY_CRITICAL if level == "crit" else SEVERITY_WARNING
    word = "critical" if level == "crit" else "warning"
    source = label.rsplit(" ", 1)[0] if label else rail  # the collector labels it "<rail> <level>"
    return [Condition(f"power_cap:{name}", "power_cap", severity, source,
                      f"{source}: the rail draws more than its {word} current limit; the board may "
                      "throttle. Check the supply and the power mode.", name, value)]


def evaluate(values: Mapping[str, float], thresholds: AlertThresholds, labels: Mapping[str, str],
             trips: Mapping[str, Mapping[str, float]], counters: Dict[str, float]) -> List[Condition]:
    """Every condition that holds in this sample. ``counters`` keeps the previous value of each
    event counter between calls (the caller owns it)."""
    out: List[Condition] = []
    for name, value in values.items():
        if name.startswith("temp."):
            out += temperature(name, value, labels.get(name, name[5:]), thresholds, trips.get(name, {}))
        elif name.startswith("gpu."):
            match = _GPU_KEY.match(name)
            if match and match.group(2) == "throttle_reasons":
                out += nvml_throttle(values, match.group(1), int(value))
            elif match:
                out += temperature(name, value, labels.get(name, f"GPU {match.group(1)}"), thresholds, {})
        elif name.startswith("jetson."):
            oc = _OC.match(name)
            if oc:
                out += over_current(name, oc.group(1), value, counters.get(name))
                counters[name] = value
                continue
            alarm = _ALARM.match(name)
            if alarm:
                out += current_alarm(name, alarm.group(1), alarm.group(2), value, labels.get(name, ""))
    out += gpu_clocks(values, thresholds)
    out += cpu_clocks(values, thresholds)
    return out
