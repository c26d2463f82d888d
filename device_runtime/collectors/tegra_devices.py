"""Jetson fans and engine clocks, plus the small readers the sysfs collector builds its table from.

Discovery functions take a ``hold`` callable that opens (and keeps open) one sysfs file, so the
collector owns every descriptor and closes them together.
"""

from __future__ import annotations

import os
from typing import Callable, Dict, List, Optional, Tuple

from device_runtime.collectors.base import HeldFile
from device_runtime.protocol import MetricSpec

Reader = Callable[[], float]
Hold = Callable[[str], HeldFile]
Entry = Tuple[MetricSpec, Reader]

ENGINES = ("nvenc", "nvenc1", "nvdec", "nvdec1", "nvjpg", "nvjpg1", "nvdla0", "nvdla1", "ofa", "vic")
_FAN_FILES = (("pwm1", "pwm"), ("cur_pwm", "pwm"), ("fan1_input", "rpm"), ("rpm", "rpm"), ("rpm_measured", "rpm"))


class Scaled:
    """One integer attribute times a unit factor. The collector reads all of these in one tight
    loop (``base.read_scaled``) instead of calling them one by one."""

    __slots__ = ("factor", "held")

    def __init__(self, held: HeldFile, factor: float) -> None:
        self.held, self.factor = held, factor

    def __call__(self) -> float:
        return self.held.read_int() * self.factor


def scaled(held: HeldFile, factor: float) -> Scaled:
    return Scaled(held, factor)


class Product:
    """Two attributes multiplied (INA3221: bus mV x mA / 1000 = mW), read in the collector's
    tight loop like :class:`Scaled`."""

    __slots__ = ("factor", "first", "second")

    def __init__(self, first: HeldFile, second: HeldFile, factor: float) -> None:
        self.first, self.second, self.factor = first, second, factor

    def __call__(self) -> float:
        return self.first.read_int() * self.second.read_int() * self.factor


def product(files: List[HeldFile], factor: float) -> Reader:
    """mV x mA / 1000 for INA3221 channels; a single file times its unit factor otherwise."""
    if len(files) == 1:
        return Scaled(files[0], factor)
    if len(files) == 2:
        return Product(files[0], files[1], factor)

    def read() -> float:
        value = 1
        for held in files:
            value *= held.read_int()
        return value * factor

    return read


def gated(rate: HeldFile, enabled: HeldFile) -> Reader:
    return lambda: rate.read_int() / 1e6 if enabled.read_int() > 0 else 0.0


def listdir(path: str) -> List[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _fan_files(base: str) -> Dict[str, str]:
    """The first PWM and the first tachometer file of one hwmon (or pwm-fan) directory."""
    found: Dict[str, str] = {}
    for rel, kind in _FAN_FILES:
        path = os.path.join(base, rel)
        if kind not in found and os.path.isfile(path):
            found[kind] = path
    return found


def fan_nodes(sys_root: str) -> List[Dict[str, str]]:
    """One dict per fan: ``{"pwm": path, "rpm": path}`` (either may be missing).

    On Orin and Thor the fan can be split over two hwmon nodes, ``pwmfan`` with ``pwm1`` only and
    ``pwm_tach`` with ``rpm`` only (jetson-stats merges them too): a PWM-only node and a tach-only
    node are one fan when they are the only ones of their kind, or when they share a device."""
    hwmon = os.path.join(sys_root, "class", "hwmon")
    candidates = [os.path.join(hwmon, d) for d in sorted(listdir(hwmon))]
    candidates.append(os.path.join(sys_root, "devices", "pwm-fan"))
    fans = [files for files in (_fan_files(base) for base in candidates) if files]
    pwm_only = [f for f in fans if "rpm" not in f]
    tach_only = [f for f in fans if "pwm" not in f]
    for pwm in list(pwm_only):
        device = _device(pwm["pwm"])
        same = [t for t in tach_only if device is not None and _device(t["rpm"]) == device]
        if same:
            pwm["rpm"] = same[0]["rpm"]
            fans.remove(same[0])
            tach_only.remove(same[0])
            pwm_only.remove(pwm)
    if len(pwm_only) == 1 and len(tach_only) == 1:
        devices = (_device(pwm_only[0]["pwm"]), _device(tach_only[0]["rpm"]))
        if None in devices:  # two known, different devices are two fans
            pwm_only[0]["rpm"] = tach_only[0]["rpm"]
            fans.remove(tach_only[0])
    return fans


def _device(attribute: str) -> Optional[str]:
    """The device an hwmon node belongs to (its ``device`` link, resolved), when it has one."""
    link = os.path.join(os.path.dirname(attribute), "device")
    return os.path.realpath(link) if os.path.islink(link) else None


def find_fans(sys_root: str, hold: Hold) -> List[Entry]:
    """PWM duty (0-255 -> %) and tachometer of every fan: hwmon ``pwm1``/``fan1_input``/``rpm``
    (JetPack 5+) and ``/sys/devices/pwm-fan`` (JetPack 4), split nodes merged (:func:`fan_nodes`)."""
    out: List[Entry] = []
    found = 0
    for files in fan_nodes(sys_root):
        kinds_here = 0
        for kind in ("pwm", "rpm"):
            if kind not in files:
                continue
            try:
                held = hold(files[kind])
            except OSError:
                continue
            if kind == "pwm":
                out.append((MetricSpec(f"fan.{found}.pwm", f"fan {found}", "%", "Fan", "Fan speed", min=0, max=100),
                            scaled(held, 100.0 / 255.0)))
            else:
                out.append((MetricSpec(f"fan.{found}.rpm", f"fan {found}", "rpm", "Fan", "Fan RPM", min=0),
                            scaled(held, 1.0)))
            kinds_here += 1
        found += 1 if kinds_here else 0
    return out


def find_engines(sys_root: str, hold: Hold) -> List[Entry]:
    """DLA / NVENC / NVDEC / ... clocks from debugfs (root only); 0 while an engine is gated."""
    clk = os.path.join(sys_root, "kernel", "debug", "clk")
    out: List[Entry] = []
    for engine in ENGINES:
        base = os.path.join(clk, engine)
        try:
            rate = hold(os.path.join(base, "clk_rate"))
            enabled = hold(os.path.join(base, "clk_enable_count"))
        except OSError:
            continue
        out.append((MetricSpec(f"engine.{engine}.freq", engine.upper(), "MHz", "Engines", "Engine clocks", min=0,
                               description="0 while the engine's clock is gated"),
                    gated(rate, enabled)))
    return out
