"""Telemetry collectors. ``default_collectors`` is the explicit list; no folder scanning."""

from __future__ import annotations

from typing import List

from device_runtime.collectors.base import Collector


def default_collectors(sys_root: str = "/sys", proc_root: str = "/proc") -> List[Collector]:
    from device_runtime.collectors.nvml import NvmlCollector
    from device_runtime.collectors.system import SystemCollector
    from device_runtime.collectors.thermal import ThermalCollector

    return [
        SystemCollector(),
        ThermalCollector(sys_root=sys_root),
        NvmlCollector(),
    ]


__all__ = ["Collector", "default_collectors"]
