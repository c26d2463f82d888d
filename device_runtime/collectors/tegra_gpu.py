"""The Jetson's integrated GPU in sysfs: its devfreq node (clock and power-mode cap) and its load.

Names changed with every generation and JetPack (``17000000.ga10b`` on JetPack 5 Orin,
``17000000.gpu`` on JetPack 6, ``gpu-gpc-0`` without a load file on Thor), so the node is found by
its device-tree name and the load file by a list of known places, best first.
"""

from __future__ import annotations

import os
from typing import Dict, List, Tuple

from device_runtime.collectors.base import HeldFile, read_text
from device_runtime.collectors.tegra_devices import Entry, Hold, listdir, scaled
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


def gpu_devfreq_nodes(sys_root: str) -> List[str]:
    devfreq = os.path.join(sys_root, "class", "devfreq")
    nodes = []
    for entry in sorted(listdir(devfreq)):
        of_name = read_text(os.path.join(devfreq, entry, "device", "of_node", "name")) or ""
        if entry.startswith("gpu-gpc") or of_name in _GPU_OF_NAMES or entry.endswith((".gpu", ".ga10b")):
            nodes.append(os.path.join(devfreq, entry))
    return nodes


def find_gpu(sys_root: str, hold: Hold) -> Tuple[List[Entry], Dict[str, str], List[Tuple[HeldFile, HeldFile]]]:
    """GPU load (per-mille file), clock and clock cap; what is missing and why; the (min, max)
    clock files for the jetson_clocks check."""
    devfreq = os.path.join(sys_root, "class", "devfreq")
    nodes = gpu_devfreq_nodes(sys_root)
    entries: List[Entry] = []
    missing: Dict[str, str] = {}
    load_paths = [os.path.join(node, "device", "load") for node in nodes]
    load_paths += [os.path.join(sys_root, p) for p in _GPU_LOAD_PATHS]
    for path in load_paths:
        if os.path.isfile(path):
            try:
                held = hold(path)
            except OSError as exc:
                missing["jetson.gpu.load"] = f"cannot read {path}: {exc}"
                break
            entries.append((MetricSpec("jetson.gpu.load", "GPU", "%", "GPU", "GPU load", min=0, max=100,
                                       description="Share of time the integrated GPU was busy"),
                            scaled(held, 0.1)))  # per-mille
            break
    else:
        missing["jetson.gpu.load"] = (
            "no GPU load file in sysfs (Thor reports GPU load through NVML only)"
            if nodes else f"no integrated GPU found under {devfreq}")
    if not nodes:
        missing["jetson.gpu.freq"] = f"no GPU devfreq node under {devfreq}"
        return entries, missing, []
    node = nodes[0]
    try:
        cur, low, high = (hold(os.path.join(node, f)) for f in ("cur_freq", "min_freq", "max_freq"))
    except OSError as exc:
        missing["jetson.gpu.freq"] = f"cannot read {node}: {exc}"
        return entries, missing, []
    entries.append((MetricSpec("jetson.gpu.freq", "current", "MHz", "GPU", "GPU frequency", min=0),
                    scaled(cur, 1e-6)))
    entries.append((MetricSpec("jetson.gpu.freq_max", "cap", "MHz", "GPU", "GPU frequency", min=0,
                               description="Upper clock limit set by the power mode"),
                    scaled(high, 1e-6)))
    return entries, missing, [(low, high)]
