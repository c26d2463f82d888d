"""Jetson telemetry straight from sysfs/procfs: no tegrastats process, no root for most of it.

Reads GPU load and devfreq clocks, CPU clocks, EMC clock (where exposed), INA3221/INA238 power
rails, fan PWM and tachometer, NVIDIA's shared-memory counter, engine clocks (debugfs, root only),
the nvpmodel power mode and whether jetson_clocks pinned the clocks. Temperatures belong to
``ThermalCollector``. Every root is a parameter so tests run on committed board trees.
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Callable, Dict, List, Optional, Set, Tuple

from device_runtime.collectors.base import Collector, HeldFile, metric_slug, read_products, read_scaled
from device_runtime.collectors.source_watch import WATCH_SLICES, MissCounter, changes, moved
from device_runtime.collectors.tegra_board import (
    BoardInfo,
    is_jetson,
    parse_l4t,
    parse_power_modes,
    read_board,
    read_power_mode_status,
    read_power_modes,
)
from device_runtime.collectors.tegra_devices import (
    Product,
    Reader,
    Scaled,
    find_engines,
    find_fans,
    listdir,
    product,
    scaled,
)
from device_runtime.collectors.tegra_gpu import find_gpu
from device_runtime.collectors.tegra_power import find_protection, rail_sources
from device_runtime.protocol import MetricSpec

log = logging.getLogger(__name__)

__all__ = ["BoardInfo", "TegraCollector", "is_jetson", "parse_l4t", "parse_power_modes", "rail_sources",
           "read_board"]

_EMC_PATHS = (
    "class/devfreq/bwmgr/cur_freq",  # Thor: world-readable devfreq
    "kernel/debug/bpmp/debug/clk/emc/rate",  # Xavier, Orin: debugfs, root only
    "kernel/debug/clk/override.emc/clk_rate",  # Nano, TX1: debugfs, root only
)
# What makes sysfs worth reading on a Jetson; nvmap's memory is read from procfs and does not count.
_ESSENTIALS = ("jetson.gpu.load", "jetson.gpu.freq", "power.")


class TegraCollector(Collector):
    """One Jetson's sysfs/procfs telemetry. ``state()`` adds what is not a number."""

    name = "tegra"

    def __init__(
        self, sys_root: str = "/sys", proc_root: str = "/proc", etc_root: str = "/etc", var_root: str = "/var",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sys_root, self.proc_root, self.etc_root, self.var_root = sys_root, proc_root, etc_root, var_root
        self._clock = clock
        self.board: BoardInfo = read_board(proc_root, etc_root, os.path.join(var_root, "lib", "dpkg", "status"))
        self._readers: List[Tuple[MetricSpec, Reader]] = []
        self._fast: List[Tuple[str, int, float]] = []  # plain scaled attributes, read in one loop
        self._products: List[Tuple[str, int, int, float]] = []  # INA3221 mV x mA
        self._slow: List[Tuple[str, Reader]] = []  # gated clocks, parsed text
        # Derived states that change by hand or at boot (jetson_clocks, the power mode): read
        # together at most once a second, so a sample costs one clock read for all of them.
        self._periodic: List[Tuple[str, Reader]] = []
        self._periodic_values: Dict[str, float] = {}
        self._periodic_due = 0.0
        self._locked_cache: Optional[Tuple[float, bool]] = None
        self._held: List[HeldFile] = []
        self._missing: Dict[str, str] = {}
        self._gpu_limits: List[Tuple[HeldFile, HeldFile]] = []
        self._cpu_limits: List[Tuple[HeldFile, HeldFile]] = []
        self._modes, self._default_mode = read_power_modes(os.path.join(etc_root, "nvpmodel.conf"))
        self._mode_status = os.path.join(var_root, "lib", "nvpmodel", "status")
        self._status_cache: Optional[Tuple[float, Optional[int]]] = None
        self._sources: Dict[str, str] = {}
        self._pending: List[str] = []  # paths held since the last metric was added
        self._misses = MissCounter()
        self._delivered: Set[str] = set()  # every metric that gave a number at least once
        self._given_up: Dict[str, str] = {}  # metric -> why it is listed as not available
        self._watch_at = 0
        self.changes: List[str] = []  # what the last looks at the sources changed, newest last
        self._readable = False
        self._discover()

    def _discover(self) -> None:
        for step in (self._find_gpu, self._find_cpus, self._find_emc, self._find_shared_memory,
                     self._find_rails, self._find_protection, self._find_fans, self._find_engines,
                     self._find_modes):
            step()
        self._pending = []
        self._readable = any(spec.name.startswith(_ESSENTIALS) for spec, _ in self._readers)

    def _rediscover(self, why: str) -> bool:
        """Look for every source again; say what changed (a node gone, a path that moved)."""
        before = dict(self._sources)
        self.close()
        self._missing, self._sources, self._gpu_limits, self._cpu_limits = {}, {}, [], []
        self._locked_cache = None
        self._discover()
        found = changes(before, self._sources, self._missing)
        for line in found:
            log.warning("tegra collector (%s): %s", why, line)
        self.changes = (self.changes + found)[-20:]
        return bool(found)

    def look_again(self, why: str) -> bool:
        """Look for every source now, for a caller that stopped reading this collector's values
        (``JetsonCollector`` on a fallback, asking whether sysfs came back). True when a source changed."""
        changed = self._rediscover(why)
        self._periodic_due = 0.0
        return changed

    # -- discovery -----------------------------------------------------------------------------

    def _hold(self, path: str) -> HeldFile:
        held = HeldFile(path)
        try:
            held.read_text()
        except OSError:
            held.close()
            raise
        self._held.append(held)
        self._pending.append(path)
        return held

    def _add(self, spec: MetricSpec, read: Reader, periodic: bool = False, source: str = "") -> None:
        self._readers.append((spec, read))
        if isinstance(read, Scaled):
            source = source or read.held.path
        elif isinstance(read, Product):
            source = source or "%s x %s" % (read.first.path, read.second.path)
        self._sources[spec.name] = source or " x ".join(self._pending) or "derived"
        self._pending = []
        if periodic:
            self._periodic.append((spec.name, read))
        elif isinstance(read, Scaled):
            self._fast.append((spec.name, read.held.fd, read.factor))
        elif isinstance(read, Product):
            self._products.append((spec.name, read.first.fd, read.second.fd, read.factor))
        else:
            self._slow.append((spec.name, read))

    def _sys(self, *parts: str) -> str:
        return os.path.join(self.sys_root, *parts)

    def _find_gpu(self) -> None:
        entries, missing, self._gpu_limits = find_gpu(self.sys_root, self._hold)
        for spec, read in entries:
            self._add(spec, read)
        self._missing.update(missing)

    def _find_cpus(self) -> None:
        base = self._sys("devices", "system", "cpu")
        cores = sorted(int(d[3:]) for d in listdir(base) if re.match(r"^cpu\d+$", d))
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
            self._add(MetricSpec(f"cpu.core.{core}.freq", f"core {core}", "MHz", "CPU", "CPU frequency", min=0),
                      scaled(cur, 1e-3))  # kHz
            self._add(MetricSpec(f"cpu.core.{core}.freq_max", f"core {core}", "MHz", "CPU", "CPU frequency cap",
                                 min=0, description="Upper clock limit (scaling_max_freq) set by the power mode"),
                      scaled(limits[1], 1e-3))

    def _find_emc(self) -> None:
        for rel in _EMC_PATHS:
            path = self._sys(rel)
            try:
                held = self._hold(path)
            except OSError:
                continue
            self._add(MetricSpec("jetson.emc.freq", "EMC", "MHz", "Memory", "EMC", min=0,
                                 description="External memory controller clock"),
                      scaled(held, 1e-6))
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
                  lambda: _nvmap_mb(held))

    def _find_rails(self) -> None:
        seen: Dict[str, int] = {}
        for name, paths, scale in rail_sources(self.sys_root):
            try:
                files = [self._hold(p) for p in paths]
            except OSError as exc:
                self._missing[f"power.{metric_slug(name, 'rail')}"] = f"cannot read {paths[0]}: {exc}"
                continue
            slug, label = metric_slug(name, "rail"), name
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            if count:
                slug, label = f"{slug}_{count}", f"{name} ({count + 1})"
            self._add(MetricSpec(f"power.{slug}", label, "mW", "Power", "Power rails", min=0),
                      product(files, scale))
        if not seen:
            drivers = self._sys("bus", "i2c", "drivers")
            self._missing["power"] = f"no INA3221/INA238 power monitor under {drivers}"

    def _find_protection(self) -> None:
        """Over-current counters and current alarms: the SoC throttles when these trip."""
        entries, missing = find_protection(self.sys_root, self._hold)
        for spec, read in entries:
            self._add(spec, read)
        self._missing.update(missing)

    def _find_fans(self) -> None:
        for spec, read in find_fans(self.sys_root, self._hold):
            self._add(spec, read)
        if not any(spec.name.startswith("fan.") for spec, _ in self._readers):
            self._missing["fan"] = "no fan PWM or tachometer in hwmon"

    def _find_engines(self) -> None:
        for spec, read in find_engines(self.sys_root, self._hold):
            self._add(spec, read)
        if not any(spec.name.startswith("engine.") for spec, _ in self._readers):
            clk = self._sys("kernel", "debug", "clk")
            self._missing["engine"] = f"DLA/NVENC/NVDEC clocks are only in debugfs ({clk}), which needs root"

    def _find_modes(self) -> None:
        if self._gpu_limits or self._cpu_limits:
            spec = MetricSpec("jetson.clocks_locked", "jetson_clocks", "", "Clocks", "jetson_clocks",
                              min=0, max=1,
                              description="1 when every CPU and the GPU run with min clock == max clock")
            self._add(spec, lambda: 1.0 if self._clocks_locked() else 0.0, periodic=True,
                      source="min_freq == max_freq of every cpufreq and the GPU devfreq node")
        if not self._modes:
            self._missing["jetson.power_mode"] = f"no nvpmodel.conf under {self.etc_root}"
            return
        labels = {str(mode): name for mode, name in sorted(self._modes.items())}
        self._add(MetricSpec("jetson.power_mode", "mode", "", "Power", "Power mode", min=min(self._modes),
                             max=max(self._modes), integer=True, labels=labels,
                             description="The nvpmodel power mode (its name in nvpmodel.conf)"),
                  lambda: float(self._power_mode()[0]), periodic=True,
                  source="%s, else the default in %s" % (self._mode_status, os.path.join(self.etc_root,
                                                                                          "nvpmodel.conf")))

    # -- reading -------------------------------------------------------------------------------

    def _clocks_locked(self) -> bool:
        """min clock == max clock everywhere; re-checked at most once a second (jetson_clocks is
        run by hand or at boot, and these are 2 reads per core)."""
        now = self._clock()
        if self._locked_cache is None or now - self._locked_cache[0] >= 1.0:
            pairs = self._gpu_limits + self._cpu_limits
            self._locked_cache = (now, all(low.read_int() == high.read_int() for low, high in pairs))
        return self._locked_cache[1]

    def _power_mode(self) -> Tuple[int, str]:
        """The mode in nvpmodel's status file, re-read at most once a second: nvpmodel may
        replace the file, so it is opened each time, and modes change far less often than 10 Hz."""
        now = self._clock()
        if self._status_cache is None or now - self._status_cache[0] >= 1.0:
            self._status_cache = (now, read_power_mode_status(self._mode_status))
        status = self._status_cache[1]
        mode = status if status is not None else self._default_mode
        if mode is None:
            raise ValueError(f"no power mode in {self._mode_status} and no default in nvpmodel.conf")
        return mode, self._modes.get(mode, str(mode))

    def readable(self) -> bool:
        """Whether sysfs gives the Jetson essentials (GPU load or clock, or power rails), as of the
        last look; when not, ``JetsonCollector`` falls back to tegrastats, then procfs. Asked every
        sample, so kept as a flag."""
        return self._readable

    def metrics(self) -> List[MetricSpec]:
        return [spec for spec, _ in self._readers]

    def collect(self) -> Dict[str, float]:
        out: Dict[str, float] = {}
        read_scaled(self._fast, out)
        read_products(self._products, out)
        for name, read in self._slow:
            try:
                out[name] = float(read())
            except (OSError, ValueError, IndexError):
                continue  # unreadable this time: left out of this sample
        now = self._clock()
        if now >= self._periodic_due:
            self._periodic_due = now + 1.0
            gone = moved(self._held[self._watch_at::WATCH_SLICES])  # each file every WATCH_SLICES s
            self._watch_at = (self._watch_at + 1) % WATCH_SLICES
            self._delivered.update(out)
            for name in [n for n in self._given_up if n in out]:
                del self._given_up[name]  # a retried source gives numbers now
                log.warning("tegra collector: %s reads again from %s", name, self._sources.get(name))
            declared = {n for n, _, _ in self._fast} | {p[0] for p in self._products}
            if gone or self._misses.due(declared | set(self._given_up), out):
                changed = self._rediscover("%s moved or vanished" % gone[0] if gone else "declared metrics unreadable")
                self._misses.settle(changed)
                if not gone and not changed:
                    self._give_up(declared - self._delivered)
                self._periodic_due = 0.0  # read the periodic states from the new sources too
                return self.collect()
            values: Dict[str, float] = {}
            for name, read in self._periodic:
                try:
                    values[name] = float(read())
                except (OSError, ValueError, IndexError):
                    continue  # unreadable now: left out until the next reading
            self._periodic_values = values
        out.update(self._periodic_values)
        return out

    def sources(self) -> Dict[str, str]:
        return {name: source for name, source in self._sources.items() if name not in self._given_up}

    def _give_up(self, names: Set[str]) -> None:
        """Metrics whose file opened but never gave a number, looked for again in vain: listed
        once as not available, with the file, instead of a gap in every sample. They are tried
        again at each later look (every 6 s, doubling up to a minute)."""
        for name in sorted(names):
            if name not in self._given_up:
                self._given_up[name] = "not available on this board: %s never gave a number" % self._sources.get(name)
                log.warning("tegra collector: %s: %s", name, self._given_up[name])
        self._readers = [(spec, read) for spec, read in self._readers if spec.name not in names]
        self._fast = [entry for entry in self._fast if entry[0] not in names]
        self._products = [entry for entry in self._products if entry[0] not in names]
        self._readable = any(spec.name.startswith(_ESSENTIALS) for spec, _ in self._readers)

    def state(self) -> Dict[str, str]:
        """Board identity, power mode and jetson_clocks as text, for the capabilities panel."""
        out = {"board": self.board.identity.name or self.board.model or "unknown", "model": self.board.model or ""}
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
        return dict(self._missing, **self._given_up)

    def close(self) -> None:
        for held in self._held:
            held.close()
        self._held, self._readers, self._fast, self._products, self._slow = [], [], [], [], []
        self._readable = False
        self._periodic, self._periodic_values = [], {}


def _nvmap_mb(held: HeldFile) -> float:
    """NvMapMemUsed from /proc/meminfo, found in the raw bytes (no decode, no regex per sample)."""
    data = os.pread(held.fd, 8192, 0)
    at = data.find(b"NvMapMemUsed:")
    if at < 0:
        raise ValueError("NvMapMemUsed is gone from meminfo")  # left out of the sample, never 0
    return int(data[at + 13:data.index(b"kB", at)]) / 1024.0


def _meminfo_mb(text: str, key: str) -> Optional[float]:
    match = re.search(rf"^{re.escape(key)}:\s+(\d+)\s*kB", text, re.MULTILINE)
    return int(match.group(1)) / 1024.0 if match else None
