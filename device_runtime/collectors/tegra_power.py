"""Where a Jetson exposes its power: INA3221/INA238 rails, their current alarms, and the SoC's
over-current (OC) event counters. Pure discovery of paths; the collector holds the files open.
"""

from __future__ import annotations

import glob
import os
from typing import Dict, List, NamedTuple, Tuple

from device_runtime.collectors.base import metric_slug, read_text
from device_runtime.collectors.tegra_devices import Entry, Hold, scaled
from device_runtime.protocol import COUNTER, MetricSpec

# OC event counters of Orin's "soctherm_oc" hwmon (NVIDIA tegra23x-oc-event driver): each counts
# how often the SoC throttled its clocks for that cause. Meanings from NVIDIA's Orin "Platform
# Power and Performance" guide.
OC_CAUSES = {1: "under-voltage", 2: "average over-current", 3: "instantaneous over-current"}


def rail_sources(sys_root: str) -> List[Tuple[str, List[str], float]]:
    """Every power rail as (label, files whose product is the power, scale to mW).

    INA3221 on JetPack 5+ (hwmon: ``inN_label``, bus mV ``inN_input`` x mA ``currN_input``);
    INA3221 on JetPack 4 (iio: ``rail_name_N``, ``in_powerN_input`` in mW); INA238 on Thor's
    carrier (hwmon ``power1_input`` in uW, unlabelled: it measures the board input, VIN).
    Channels labelled "NC" are not connected; channel 7 is a sum of shunt voltages.
    """
    drivers = os.path.join(sys_root, "bus", "i2c", "drivers")
    out: List[Tuple[str, List[str], float]] = []
    for hwmon in sorted(glob.glob(os.path.join(drivers, "ina3221", "*", "hwmon", "hwmon*"))):
        for label_path in sorted(glob.glob(os.path.join(hwmon, "in[1-6]_label"))):
            channel = os.path.basename(label_path)[2]
            label = read_text(label_path) or ""
            if not label or label == "NC" or "sum of shunt" in label.lower():
                continue
            out.append((label, [os.path.join(hwmon, f"in{channel}_input"),
                                os.path.join(hwmon, f"curr{channel}_input")], 0.001))
    for iio in sorted(glob.glob(os.path.join(drivers, "ina3221x", "*", "iio:device*"))):
        for name_path in sorted(glob.glob(os.path.join(iio, "rail_name_[0-9]"))):
            channel = name_path[-1]
            label = read_text(name_path) or ""
            if label and label != "NC":
                out.append((label, [os.path.join(iio, f"in_power{channel}_input")], 1.0))
    for hwmon in sorted(glob.glob(os.path.join(drivers, "ina238", "*", "hwmon", "hwmon*"))):
        label = read_text(os.path.join(hwmon, "in1_label")) or "VIN"
        out.append((label, [os.path.join(hwmon, "power1_input")], 0.001))
    return out


class CurrentAlarm(NamedTuple):
    rail: str  # the channel's label, e.g. "VDD_IN"
    level: str  # "crit" or "warn"
    path: str


def current_alarm_sources(sys_root: str) -> List[CurrentAlarm]:
    """INA3221 hwmon alarm flags (Linux Documentation/hwmon/ina3221.rst): ``currN_crit_alarm``
    and ``currN_max_alarm`` read 1 while the channel is over its critical / warning current."""
    drivers = os.path.join(sys_root, "bus", "i2c", "drivers")
    out: List[CurrentAlarm] = []
    for hwmon in sorted(glob.glob(os.path.join(drivers, "ina3221", "*", "hwmon", "hwmon*"))):
        for label_path in sorted(glob.glob(os.path.join(hwmon, "in[1-6]_label"))):
            channel = os.path.basename(label_path)[2]
            label = read_text(label_path) or ""
            if not label or label == "NC" or "sum of shunt" in label.lower():
                continue
            for level, name in (("crit", f"curr{channel}_crit_alarm"), ("warn", f"curr{channel}_max_alarm")):
                path = os.path.join(hwmon, name)
                if os.path.isfile(path):
                    out.append(CurrentAlarm(label, level, path))
    return out


def oc_event_sources(sys_root: str) -> List[Tuple[int, str]]:
    """(OC number, path of its ``ocN_event_cnt``) for the hwmon named ``soctherm_oc``."""
    base = os.path.join(sys_root, "class", "hwmon")
    out: List[Tuple[int, str]] = []
    for name_path in sorted(glob.glob(os.path.join(base, "hwmon*", "name"))):
        if read_text(name_path) != "soctherm_oc":
            continue
        hwmon = os.path.dirname(name_path)
        for path in sorted(glob.glob(os.path.join(hwmon, "oc[0-9]_event_cnt"))):
            out.append((int(os.path.basename(path)[2]), path))
    return out


def find_protection(sys_root: str, hold: Hold) -> Tuple[List[Entry], Dict[str, str]]:
    """Over-current event counters (Orin's soctherm_oc) and INA3221 current alarms as metrics,
    plus what could not be read and why. The alert service watches both: the SoC throttles its
    clocks when they trip."""
    entries: List[Entry] = []
    missing: Dict[str, str] = {}
    for number, path in oc_event_sources(sys_root):
        try:
            held = hold(path)
        except OSError as exc:
            missing[f"jetson.oc.{number}.events"] = f"cannot read {path}: {exc}"
            continue
        cause = OC_CAUSES.get(number, "over-current")
        entries.append((MetricSpec(f"jetson.oc.{number}.events", f"OC{number} {cause}", "", "Power",
                                   "Over-current throttling", kind=COUNTER, min=0, integer=True,
                                   description="Times the SoC throttled its clocks for this cause since boot"),
                        scaled(held, 1.0)))
    if not entries:
        missing["jetson.oc"] = ("no over-current event counters (soctherm_oc hwmon, Orin and later) under "
                                + os.path.join(sys_root, "class", "hwmon"))
    for alarm in current_alarm_sources(sys_root):
        name = f"jetson.current_alarm.{metric_slug(alarm.rail, 'rail')}.{alarm.level}"
        try:
            held = hold(alarm.path)
        except OSError as exc:
            missing[name] = f"cannot read {alarm.path}: {exc}"
            continue
        level = "critical" if alarm.level == "crit" else "warning"
        entries.append((MetricSpec(name, f"{alarm.rail} {level}", "", "Power", "Current alarms", min=0, max=1,
                                   integer=True, labels={"0": "off", "1": "tripped"},
                                   description=f"1 while {alarm.rail} draws more than its {level} current limit"),
                        scaled(held, 1.0)))
    return entries, missing
