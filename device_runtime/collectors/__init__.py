"""Telemetry collectors. ``default_collectors`` is the explicit list; no folder scanning."""

from __future__ import annotations

import importlib.util
import os
from typing import List

from device_runtime.collectors.base import Collector


def default_collectors(
    sys_root: str = "/sys",
    proc_root: str = "/proc",
    etc_root: str = "/etc",
    var_root: str = "/var",
    tegrastats_path: str = "/usr/bin/tegrastats",
) -> List[Collector]:
    from device_runtime.collectors.nvml import NvmlCollector
    from device_runtime.collectors.system import SystemCollector
    from device_runtime.collectors.tegra import TegraCollector, is_jetson
    from device_runtime.collectors.thermal import ThermalCollector

    collectors: List[Collector] = [
        SystemCollector(proc_root=proc_root, sys_root=sys_root),
        ThermalCollector(sys_root=sys_root),
        NvmlCollector(),
    ]
    if is_jetson(proc_root, etc_root, os.path.join(var_root, "lib", "dpkg", "status")):
        # sysfs, else tegrastats, else procfs: chosen again while running (jetson_source.py)
        from device_runtime.collectors.jetson_source import JetsonCollector
        from device_runtime.collectors.tegrastats_source import TegrastatsCollector

        def start_tegrastats(first_line_timeout: float) -> TegrastatsCollector:
            return TegrastatsCollector(path=tegrastats_path, first_line_timeout=first_line_timeout)

        sysfs = TegraCollector(sys_root=sys_root, proc_root=proc_root, etc_root=etc_root, var_root=var_root)
        collectors.append(JetsonCollector(sysfs, start_tegrastats))
    if importlib.util.find_spec("jtop") is not None:  # jetson-stats installed; imported lazily inside
        from device_runtime.collectors.jtop_source import JtopCollector

        collectors.append(JtopCollector())
    return collectors


__all__ = ["Collector", "default_collectors"]
