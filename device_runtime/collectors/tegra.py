"""Jetson telemetry straight from sysfs/procfs: no tegrastats process, no root for most of it.

Reads GPU load and devfreq clocks, CPU clocks, EMC clock (where exposed), INA3221/INA238 power
rails, fan PWM and tachometer, NVIDIA's shared-memory counter, engine clocks (debugfs, root only),
the nvpmodel power mode and whether jetson_clocks pinned the clocks. Temperatures belong to
``ThermalCollector``. Every root is a parameter so tests run on committed board trees.
"""

from __future__ import annotations

import glob
import os
import re
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

from device_runtime.collectors.base import Collector, HeldFile, read_text
from device_runtime.protocol import MetricSpec

# devfreq nodes whose of_node name marks the integrated GPU (TX2 gp10b, Xavier gv11b, Orin ga10b,
# JetPack 6 Orin and Nano "gpu"); Thor names its GPC clock domain "gpu-gpc-N" instead.
_GPU_OF_NAMES = ("gp10b", "gv11b", "ga10b", "gb10b", "gpu")
# Where the per-mille GPU load lives when the devfreq node's "device" link is not followed.
_GPU_LOAD_PATHS = (
    "devices/platform/bus@0/17000000.gpu/load",  # Orin, JetPack 6
    "devices/platform/17000000.ga10b/load",  # Orin, JetPack 5
    "devices/platform/gpu.0/load",
    "devices/gpu.0/load",  # Nano, TX2, Xavier (JetPack 4/5)
    "devices/57000000.gpu/load",
)
_EMC_PATHS = (
    "class/devfreq/bwmgr/cur_freq",  # Thor: world-readable devfreq
    "kernel/debug/bpmp/debug/clk/emc/rate",  # Xavier, Orin: debugfs, root only
    "kernel/debug/clk/override.emc/clk_rate",  # Nano, TX1: debugfs, root only
)
_ENGINES = ("nvenc", "nvenc1", "nvdec", "nvdec1", "nvjpg", "nvjpg1", "nvdla0", "nvdla1", "ofa", "vic")

Reader = Callable[[], float]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "rail"



class BoardInfo(NamedTuple):
    model: Optional[str]  # /proc/device-tree/model, e.g. "NVIDIA Jetson AGX Orin Developer Kit"
    l4t: Optional[str]  # from /etc/nv_tegra_release, e.g. "36.4.7"


def parse_l4t(text: str) -> Optional[str]:
    """``# R36 (release), REVISION: 4.7, ...`` -> ``36.4.7``."""
    match = re.search(r"R(\d+)\s*\(\w+\),\s*REVISION:\s*(\d+)\.(\d+)", text)
    return "{}.{}.{}".format(*match.groups()) if match else None


def read_board(proc_root: str = "/proc", etc_root: str = "/etc") -> BoardInfo:
    release = read_text(os.path.join(etc_root, "nv_tegra_release"))
    return BoardInfo(read_text(os.path.join(proc_root, "device-tree", "model")),
                     parse_l4t(release) if release else None)


def is_jetson(proc_root: str = "/proc", etc_root: str = "/etc") -> bool:
    board = read_board(proc_root, etc_root)
    return board.l4t is not None or "jetson" in (board.model or "").lower()


def parse_power_modes(text: str) -> Tuple[Dict[int, str], Optional[int]]:
    """nvpmodel.conf headers: ``< POWER_MODEL ID=2 NAME=MAXN_SUPER >`` and ``< PM_CONFIG DEFAULT=2 >``."""
    modes = {int(i): n for i, n in re.findall(r"<\s*POWER_MODEL\s+ID=(\d+)\s+NAME=(\S+)\s*>", text)}
    default = re.search(r"<\s*PM_CONFIG\s+DEFAULT=(\d+)\s*>", text)
    return modes, int(default.group(1)) if default else None


def read_power_modes(path: str) -> Tuple[Dict[int, str], Optional[int]]:
    text = read_text(path)
    return parse_power_modes(text) if text else ({}, None)


def read_power_mode_status(path: str) -> Optional[int]:
    """/var/lib/nvpmodel/status holds ``pmode:0002 fmode:quiet``; absent until a mode is set."""
    text = read_text(path)
    match = re.search(r"pmode:(\d+)", text or "")
    return int(match.group(1)) if match else None


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


class TegraCollector(Collector):
    """One Jetson's sysfs/procfs telemetry. ``state()`` adds what is not a number."""

    name = "tegra"

    def __init__(
        self, sys_root: str = "/sys", proc_root: str = "/proc", etc_root: str = "/etc", var_root: str = "/var"
    ) -> None:
        self.sys_root, self.proc_root, self.etc_root, self.var_root = sys_root, proc_root, etc_root, var_root
        self.board: BoardInfo = read_board(proc_root, etc_root)
        self._readers: List[Tuple[MetricSpec, Reader]] = []
        self._held: List[HeldFile] = []
        self._missing: Dict[str, str] = {}
        self._gpu_limits: List[Tuple[HeldFile, HeldFile]] = []
        self._cpu_limits: List[Tuple[HeldFile, HeldFile]] = []
        self._modes, self._default_mode = read_power_modes(os.path.join(etc_root, "nvpmodel.conf"))
        self._mode_status = os.path.join(var_root, "lib", "nvpmodel", "status")
        for step in (self._find_gpu, self._find_cpus, self._find_emc, self._find_shared_memory,
                     self._find_rails, self._find_fans, self._find_engines, self._find_modes):
            step()

    # -- discovery -----------------------------------------------------------------------------

    def _hold(self, path: str) -> HeldFile:
        held = HeldFile(path)
        try:
            held.read_text()
        except OSError:
            held.close()
            raise
        self._held.append(held)
        return held

    def _add(self, spec: MetricSpec, read: Reader) -> None:
        self._readers.append((spec, read))

    def _sys(self, *parts: str) -> str:
        return os.path.join(self.sys_root, *parts)

    def _find_gpu(self) -> None:
        devfreq = self._sys("class", "devfreq")
        nodes = []
        for entry in sorted(_listdir(devfreq)):
            of_name = read_text(os.path.join(devfreq, entry, "device", "of_node", "name")) or ""
            if entry.startswith("gpu-gpc") or of_name in _GPU_OF_NAMES or entry.endswith((".gpu", ".ga10b")):
                nodes.append(os.path.join(devfreq, entry))
        load_paths = [os.path.join(node, "device", "load") for node in nodes]
        load_paths += [self._sys(p) for p in _GPU_LOAD_PATHS]
        for path in load_paths:
            if os.path.isfile(path):
                try:
                    held = self._hold(path)
                except OSError as exc:
                    self._missing["jetson.gpu.load"] = f"cannot read {path}: {exc}"
                    break
                self._add(MetricSpec("jetson.gpu.load", "GPU", "%", "GPU", "GPU load", min=0, max=100,
                                     description="Share of time the integrated GPU was busy"),
                          _scaled(held, 0.1))  # per-mille
                break
        else:
            self._missing["jetson.gpu.load"] = (
                "no GPU load file in sysfs (Thor reports GPU load through NVML only)"
                if nodes else f"no integrated GPU found under {devfreq}")
        if not nodes:
            self._missing["jetson.gpu.freq"] = f"no GPU devfreq node under {devfreq}"
            return
        node = nodes[0]
        try:
            cur, low, high = (self._hold(os.path.join(node, f)) for f in ("cur_freq", "min_freq", "max_freq"))
        except OSError as exc:
            self._missing["jetson.gpu.freq"] = f"cannot read {node}: {exc}"
            return
        self._gpu_limits.append((low, high))
        self._add(MetricSpec("jetson.gpu.freq", "current", "MHz", "GPU", "GPU frequency", min=0),
                  _scaled(cur, 1e-6))
        self._add(MetricSpec("jetson.gpu.freq_max", "cap", "MHz", "GPU", "GPU frequency", min=0,
                             description="Upper clock limit set by the power mode"),
                  _scaled(high, 1e-6))

    def _find_cpus(self) -> None:
        base = self._sys("devices", "system", "cpu")
        cores = sorted(int(d[3:]) for d in _listdir(base) if re.match(r"^cpu\d+$", d))
        for core in cores:
            freq_dir = os.path.join(base, f"cpu{core}", "cpufreq")
            try:
                cur = self._hold(os.path.join(freq_dir, "scaling_cur_freq"))
                limits = (self._hold(os.path.join(freq_dir, "scaling_min_freq")),
                          self._hold(os.path.join(freq_dir, "scaling_max_freq")))
            except OSError as exc:
                self._missing[f"cpu.core.{core}.freq"] = f"cannot read {freq_dir}: {exc}"
                continue
            self._cpu_limits.append(limits)
            spec = MetricSpec(f"cpu.core.{core}.freq", f"core {core}", "MHz", "CPU", "CPU frequency", min=0)
            self._add(spec,
                      _scaled(cur, 1e-3))  # kHz

    def _find_emc(self) -> None:
        for rel in _EMC_PATHS:
            path = self._sys(rel)
            try:
                held = self._hold(path)
            except OSError:
                continue
            self._add(MetricSpec("jetson.emc.freq", "EMC", "MHz", "Memory", "EMC", min=0,
                                 description="External memory controller clock"),
                      _scaled(held, 1e-6))
            return
        self._missing["jetson.emc.freq"] = (
            f"EMC clock is exposed only in debugfs here ({self._sys(_EMC_PATHS[1])}), which needs root")

    def _find_shared_memory(self) -> None:
        path = os.path.join(self.proc_root, "meminfo")
        try:
            held = self._hold(path)
        except OSError as exc:
            self._missing["jetson.gpu.shared_mem"] = f"cannot read {path}: {exc}"
            return
        if _meminfo_mb(held.read_text(), "NvMapMemUsed") is None:
            self._missing["jetson.gpu.shared_mem"] = (
                f"no NvMapMemUsed in {path} (Thor's unified memory is not counted by nvmap; "
                "/sys/kernel/debug/nvmap/iovmm is root-only)")
            return
        self._add(MetricSpec("jetson.gpu.shared_mem", "GPU (nvmap)", "MB", "Memory", "GPU shared memory",
                             min=0,
                             description="RAM the GPU and engines hold through nvmap"),
                  lambda: _meminfo_mb(held.read_text(), "NvMapMemUsed") or 0.0)

    def _find_rails(self) -> None:
        seen: Dict[str, int] = {}
        for name, paths, scale in rail_sources(self.sys_root):
            try:
                files = [self._hold(p) for p in paths]
            except OSError as exc:
                self._missing[f"power.{_slug(name)}"] = f"cannot read {paths[0]}: {exc}"
                continue
            slug, label = _slug(name), name
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            if count:
                slug, label = f"{slug}_{count}", f"{name} ({count + 1})"
            self._add(MetricSpec(f"power.{slug}", label, "mW", "Power", "Power rails", min=0),
                      _product(files, scale))
        if not seen:
            drivers = self._sys("bus", "i2c", "drivers")
            self._missing["power"] = f"no INA3221/INA238 power monitor under {drivers}"

    def _find_fans(self) -> None:
        found = 0
        candidates = [self._sys("class", "hwmon", d) for d in sorted(_listdir(self._sys("class", "hwmon")))]
        candidates.append(self._sys("devices", "pwm-fan"))  # JetPack 4 fan driver
        for base in candidates:
            kinds_here = set()
            for rel, kind in (("pwm1", "pwm"), ("cur_pwm", "pwm"), ("fan1_input", "rpm"), ("rpm", "rpm"),
                              ("rpm_measured", "rpm")):
                path = os.path.join(base, rel)
                if kind in kinds_here or not os.path.isfile(path):
                    continue
                try:
                    held = self._hold(path)
                except OSError:
                    continue
                if kind == "pwm":  # 0-255 duty cycle
                    spec = MetricSpec(f"fan.{found}.pwm", f"fan {found}", "%", "Fan", "Fan speed", min=0,
                                      max=100)
                    self._add(spec, _scaled(held, 100.0 / 255.0))
                else:
                    spec = MetricSpec(f"fan.{found}.rpm", f"fan {found}", "rpm", "Fan", "Fan RPM", min=0)
                    self._add(spec, _scaled(held, 1.0))
                kinds_here.add(kind)
            found += 1 if kinds_here else 0
        if not found:
            self._missing["fan"] = "no fan PWM or tachometer in hwmon"

    def _find_engines(self) -> None:
        clk = self._sys("kernel", "debug", "clk")
        for engine in _ENGINES:
            base = os.path.join(clk, engine)
            try:
                rate = self._hold(os.path.join(base, "clk_rate"))
                enabled = self._hold(os.path.join(base, "clk_enable_count"))
            except OSError:
                continue
            spec = MetricSpec(f"engine.{engine}.freq", engine.upper(), "MHz", "Engines", "Engine clocks",
                              min=0,
                              description="0 while the engine's clock is gated")
            self._add(spec, _gated(rate, enabled))
        if not any(spec.name.startswith("engine.") for spec, _ in self._readers):
            self._missing["engine"] = f"DLA/NVENC/NVDEC clocks are only in debugfs ({clk}), which needs root"

    def _find_modes(self) -> None:
        if self._gpu_limits or self._cpu_limits:
            spec = MetricSpec("jetson.clocks_locked", "jetson_clocks", "", "Clocks", "jetson_clocks",
                              min=0, max=1,
                              description="1 when every CPU and the GPU run with min clock == max clock")
            self._add(spec, lambda: 1.0 if self._clocks_locked() else 0.0)
        if not self._modes:
            self._missing["jetson.power_mode"] = f"no nvpmodel.conf under {self.etc_root}"
            return
        self._add(MetricSpec("jetson.power_mode", "nvpmodel id", "", "Power", "Power mode", min=0),
                  lambda: float(self._power_mode()[0]))

    # -- reading -------------------------------------------------------------------------------

    def _clocks_locked(self) -> bool:
        pairs = self._gpu_limits + self._cpu_limits
        return all(low.read_int() == high.read_int() for low, high in pairs)

    def _power_mode(self) -> Tuple[int, str]:
        status = read_power_mode_status(self._mode_status)
        mode = status if status is not None else self._default_mode
        if mode is None:
            raise ValueError(f"no power mode in {self._mode_status} and no default in nvpmodel.conf")
        return mode, self._modes.get(mode, str(mode))

    def readable(self) -> bool:
        """Whether sysfs gave us the Jetson essentials (GPU clock or power rails); when not,
        ``default_collectors`` falls back to tegrastats."""
        return any(spec.name.startswith(("jetson.gpu.", "power.")) for spec, _ in self._readers)

    def metrics(self) -> List[MetricSpec]:
        return [spec for spec, _ in self._readers]

    def collect(self) -> Dict[str, float]:
        out: Dict[str, float] = {}
        for spec, read in self._readers:
            try:
                out[spec.name] = float(read())
            except (OSError, ValueError, IndexError):
                continue  # unreadable this time: left out of this sample
        return out

    def state(self) -> Dict[str, str]:
        """Board identity, power mode and jetson_clocks as text, for the capabilities panel."""
        out = {"board": self.board.model or "unknown"}
        if self.board.l4t:
            out["l4t"] = self.board.l4t
        try:
            mode_id, mode_name = self._power_mode()
            out["power_mode"], out["power_mode_id"] = mode_name, str(mode_id)
        except (OSError, ValueError):
            pass
        if self._gpu_limits or self._cpu_limits:
            try:
                out["jetson_clocks"] = "on" if self._clocks_locked() else "off"
            except (OSError, ValueError, IndexError):
                out["jetson_clocks"] = "unknown"
        return out

    def absent(self) -> Dict[str, str]:
        return dict(self._missing)

    def close(self) -> None:
        for held in self._held:
            held.close()
        self._held, self._readers = [], []


def _scaled(held: HeldFile, factor: float) -> Reader:
    return lambda: held.read_int() * factor


def _product(files: List[HeldFile], factor: float) -> Reader:
    """mV x mA / 1000 for INA3221 channels; a single file times its unit factor otherwise."""

    def read() -> float:
        value = 1
        for held in files:
            value *= held.read_int()
        return value * factor

    return read


def _gated(rate: HeldFile, enabled: HeldFile) -> Reader:
    return lambda: rate.read_int() / 1e6 if enabled.read_int() > 0 else 0.0


def _meminfo_mb(text: str, key: str) -> Optional[float]:
    match = re.search(rf"^{re.escape(key)}:\s+(\d+)\s*kB", text, re.MULTILINE)
    return int(match.group(1)) / 1024.0 if match else None


def _listdir(path: str) -> List[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []
