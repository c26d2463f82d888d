"""``device.state``: power mode, jetson_clocks, and each collector's status with what it cannot
read and why, answered from the collectors the daemon already holds."""

from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence

from device_runtime.collectors.base import Collector
from device_runtime.protocol import CollectorStatus, DeviceState, Record
from device_runtime.server.service import Handler, Service


def device_state(collectors: Sequence[Collector], last_values: Mapping[str, float]) -> DeviceState:
    """A collector is active when at least one of its metrics is in the latest sample."""
    power_mode: Optional[str] = None
    clocks_locked: Optional[bool] = None
    statuses: List[CollectorStatus] = []
    for collector in collectors:
        try:
            state = collector.state()
        except Exception as exc:  # a collector that cannot describe itself is reported, not fatal
            state = {}
            absent = {"state": "reading its state failed: %s" % exc}
        else:
            absent = {}
        power_mode = power_mode or state.get("power_mode")
        if clocks_locked is None and state.get("jetson_clocks") in ("on", "off"):
            clocks_locked = state["jetson_clocks"] == "on"
        absent.update(collector.absent())
        active = any(spec.name in last_values for spec in collector.metrics())
        statuses.append(CollectorStatus(collector.name, active, absent))
    return DeviceState(power_mode, clocks_locked, statuses)


class DeviceStateService(Service):
    name = "device-state"

    def __init__(self, collectors: Sequence[Collector]) -> None:
        self.collectors = list(collectors)
        self._last: Mapping[str, float] = {}

    def handlers(self) -> Dict[str, Handler]:
        return {"device.state": self._state}

    def on_sample(self, t: float, values: Dict[str, float]) -> None:
        self._last = values  # the hub builds a new dict per sample: no copy needed

    def current(self) -> DeviceState:
        return device_state(self.collectors, self._last)

    def _state(self, _: Record) -> Record:
        return self.current()
