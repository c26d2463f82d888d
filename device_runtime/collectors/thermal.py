"""Temperatures from sysfs thermal zones and hwmon sensors, files held open between reads.

A held file keeps reading its old inode when a zone goes away or is renumbered (a driver rebind, a
JetPack upgrade, a container's new /sys), so the collector checks every few seconds that each path
is still the file it holds, as the Jetson sysfs collector does, and looks for its zones again when
one moved or vanished, saying what changed. A sensor lost that way is looked for every ``RETRY_S``
seconds until it is back.
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Callable, Dict, List, Set, Tuple

from device_runtime.collectors.base import Collector, HeldFile, metric_slug
from device_runtime.collectors.source_watch import RETRY_S, WATCH_SLICES, changes, moved
from device_runtime.protocol import MetricSpec

log = logging.getLogger(__name__)


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read().strip()


class ThermalCollector(Collector):
    """Every thermal zone by its type name (CPU-therm, GPU-therm, tj, ...) and every hwmon
    temperature input. ``sys_root`` is a parameter so tests can point it at fixture trees."""

    name = "thermal"

    def __init__(self, sys_root: str = "/sys", clock: Callable[[], float] = time.monotonic) -> None:
        self.sys_root = sys_root
        self._clock = clock
        self._sensors: List[Tuple[MetricSpec, HeldFile]] = []
        self._reads: List[Tuple[str, int]] = []  # (metric, fd): what a sample reads, in one flat list
        self._missing: Dict[str, str] = {}
        self._trips: Dict[str, Dict[str, float]] = {}
        self._watch_due = self._retry_due = 0.0
        self._watch_at = 0
        self.changes: List[str] = []  # what the last looks at the zones changed, newest last
        self._discover()
        self._known: Set[str] = set(self.sources())  # every sensor read since start

    def _rediscover(self, why: str) -> None:
        """Look for every zone and sensor again; say what changed."""
        before = self.sources()
        self.close()
        self._missing, self._trips = {}, {}
        self._discover()
        found = changes(before, self.sources(), self._missing)
        for line in found:
            log.warning("thermal collector (%s): %s", why, line)
        self.changes = (self.changes + found)[-20:]
        self._known.update(self.sources())
        self._retry_due = self._clock() + RETRY_S

    def _discover(self) -> None:
        seen: Dict[str, int] = {}
        thermal = os.path.join(self.sys_root, "class", "thermal")
        zones = sorted(
            (d for d in _listdir(thermal) if d.startswith("thermal_zone")),
            key=lambda d: int(d[len("thermal_zone"):] or 0),
        )
        for zone in zones:
            base = os.path.join(thermal, zone)
            try:
                label = _read_text(os.path.join(base, "type"))
                held = HeldFile(os.path.join(base, "temp"))
                held.read_int()
            except (OSError, ValueError) as exc:
                self._missing["thermal.%s" % zone] = "cannot read %s: %s" % (base, exc)
                continue
            name = self._add(label, held, seen)
            trips = _read_trips(base)
            if trips:
                self._trips[name] = trips
        hwmon = os.path.join(self.sys_root, "class", "hwmon")
        for dev in sorted(_listdir(hwmon)):
            base = os.path.join(hwmon, dev)
            try:
                chip = _read_text(os.path.join(base, "name"))
            except OSError:
                continue
            for entry in sorted(_listdir(base)):
                match = re.match(r"temp(\d+)_input$", entry)
                if not match:
                    continue
                label_path = os.path.join(base, "temp%s_label" % match.group(1))
                try:
                    label = _read_text(label_path) if os.path.exists(label_path) else "temp%s" % match.group(1)
                    held = HeldFile(os.path.join(base, entry))
                    held.read_int()
                except (OSError, ValueError) as exc:
                    self._missing["thermal.%s.%s" % (chip, entry)] = "cannot read: %s" % exc
                    continue
                self._add("%s %s" % (chip, label), held, seen)
        if not self._sensors:
            self._missing["thermal"] = "no readable thermal zones or hwmon temperature sensors under %s" % (
                self.sys_root
            )

    def _add(self, label: str, held: HeldFile, seen: Dict[str, int]) -> str:
        # Zone types keep their "-" and "_" as they are (temp.cpu-therm): the names charts,
        # thresholds and Prometheus have used since the first release.
        slug = metric_slug(label, "sensor", keep="_-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        if count:
            slug = "%s_%d" % (slug, count)
            label = "%s (%d)" % (label, count + 1)
        spec = MetricSpec("temp.%s" % slug, label, "°C", "Temperature", "Temperatures", min=-40, max=125)
        self._sensors.append((spec, held))
        self._reads.append((spec.name, held.fd))
        return spec.name

    def trips(self) -> Dict[str, Dict[str, float]]:
        """Each zone's trip points by type (``passive``, ``hot``, ``critical``, ``active``) in °C,
        keyed by metric name. At a passive trip the kernel starts lowering clocks (thermal
        throttling); the alert service uses them as the board's own limits."""
        return {name: dict(trips) for name, trips in self._trips.items()}

    def metrics(self) -> List[MetricSpec]:
        return [spec for spec, _ in self._sensors]

    def collect(self) -> Dict[str, float]:
        now = self._clock()
        if now >= self._watch_due:  # each held file is checked every WATCH_SLICES seconds
            self._watch_due = now + 1.0
            gone = moved([held for _, held in self._sensors][self._watch_at::WATCH_SLICES])
            self._watch_at = (self._watch_at + 1) % WATCH_SLICES
            if gone:
                self._rediscover("%s moved or vanished" % gone[0])
            elif now >= self._retry_due and self._known.difference(name for name, _ in self._reads):
                self._rediscover("looking for lost sensors")
        out: Dict[str, float] = {}
        pread = os.pread
        for name, fd in self._reads:
            try:
                out[name] = int(pread(fd, 64, 0)) / 1000.0
            except (OSError, ValueError):
                continue  # a zone that fails this time (a power-gated GPU's) is absent from this sample
        return out

    def sources(self) -> Dict[str, str]:
        return {spec.name: held.path for spec, held in self._sensors}

    def absent(self) -> Dict[str, str]:
        return dict(self._missing)

    def close(self) -> None:
        for _, held in self._sensors:
            held.close()
        self._sensors, self._reads = [], []


def _read_trips(zone: str) -> Dict[str, float]:
    """``trip_point_N_type`` / ``trip_point_N_temp`` pairs, the lowest temperature per type.
    Disabled trips (x86 writes -274000) and unreadable ones are left out."""
    out: Dict[str, float] = {}
    for entry in _listdir(zone):
        match = re.match(r"trip_point_(\d+)_type$", entry)
        if not match:
            continue
        try:
            kind = _read_text(os.path.join(zone, entry))
            temp = int(_read_text(os.path.join(zone, "trip_point_%s_temp" % match.group(1)))) / 1000.0
        except (OSError, ValueError):
            continue
        if temp > -40 and (kind not in out or temp < out[kind]):
            out[kind] = temp
    return out


def _listdir(path: str) -> List[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []
