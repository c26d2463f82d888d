"""What this device is: board, OS, GPUs, JetPack and inference stack versions.

Read from files and package metadata only; heavy libraries are never imported here, so the
daemon starts fast and stays small.
"""

from __future__ import annotations

import os
import platform
import re
import socket
import sys
from typing import Dict, List, Optional

from device_runtime.protocol import Capabilities, GpuInfo

# L4T release -> JetPack, from NVIDIA's JetPack archive (see REFERENCE in the docs).
_L4T_TO_JETPACK = [
    ("38.4", "7.1"),
    ("38.2", "7.0"),
    ("36.4", "6.2"),
    ("36.3", "6.0"),
    ("36.2", "6.0 DP"),
    ("35.6", "5.1.4"),
    ("35.5", "5.1.3"),
    ("35.4", "5.1.2"),
    ("35.3", "5.1.1"),
    ("35.2", "5.1"),
    ("35.1", "5.0.2"),
    ("34.1", "5.0.1 DP"),
    ("32.7", "4.6.x"),
    ("32.6", "4.6"),
]

# DLA cores per module, by the board model string (Orin Nano and Thor have none).
_DLA_CORES = [
    ("orin nano", 0),
    ("orin nx 8gb", 1),
    ("orin nx", 2),
    ("agx orin", 2),
    ("xavier", 2),
    ("thor", 0),
]


def _read(path: str) -> Optional[str]:
    try:
        with open(path, "rb") as handle:
            return handle.read(4096).replace(b"\x00", b"").decode("utf-8", "replace").strip()
    except OSError:
        return None


def parse_nv_tegra_release(text: str) -> Optional[str]:
    """``# R36 (release), REVISION: 4.3, ...`` -> ``36.4.3``."""
    match = re.search(r"#\s*R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)", text)
    if not match:
        return None
    return "%s.%s" % (match.group(1), match.group(2))


def jetpack_for_l4t(l4t: str) -> Optional[str]:
    for prefix, jetpack in _L4T_TO_JETPACK:
        if l4t == prefix or l4t.startswith(prefix + "."):
            return jetpack
    return None


def dla_cores_for_model(model: str) -> int:
    lowered = model.lower()
    for key, cores in _DLA_CORES:
        if key in lowered:
            return cores
    return 0


# DMI placeholders vendors leave in unset serial fields: not a serial number.
_SERIAL_PLACEHOLDERS = {"", "0", "none", "default string", "to be filled by o.e.m.", "system serial number",
                        "not specified", "not applicable", "123456789", "0123456789"}


def read_serial(root: str = "/") -> Optional[str]:
    """The board's serial number: the device tree's (Jetson modules), else DMI's (PCs; often
    readable by root only). None when neither holds a real one."""
    for parts in (("proc", "device-tree", "serial-number"), ("sys", "class", "dmi", "id", "product_serial"),
                  ("sys", "class", "dmi", "id", "board_serial")):
        text = _read(os.path.join(root, *parts))
        if text and text.strip().lower() not in _SERIAL_PLACEHOLDERS:
            return text.strip()
    return None


def _dist_version(*names: str) -> Optional[str]:
    from importlib import metadata

    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def _os_name(etc_root: str) -> str:
    text = _read(os.path.join(etc_root, "os-release")) or ""
    match = re.search(r'^PRETTY_NAME="?([^"\n]+)"?', text, re.MULTILINE)
    return match.group(1) if match else "%s %s" % (platform.system(), platform.release())


def _cuda_version(root: str) -> Optional[str]:
    text = _read(os.path.join(root, "usr", "local", "cuda", "version.json"))
    if text:
        match = re.search(r'"cuda"\s*:\s*\{[^}]*"version"\s*:\s*"([\d.]+)"', text)
        if match:
            return match.group(1)
    text = _read(os.path.join(root, "usr", "local", "cuda", "version.txt"))
    if text:
        match = re.search(r"([\d]+\.[\d.]+)", text)
        if match:
            return match.group(1)
    return None


def backends_available() -> List[str]:
    backends = []
    if _dist_version("onnxruntime", "onnxruntime-gpu"):
        backends.append("onnxruntime")
    if _dist_version("tensorrt", "tensorrt-cu12", "tensorrt-cu13", "tensorrt_libs"):
        backends.append("tensorrt")
    return backends


def probe(
    root: str = "/",
    gpus: Optional[List[GpuInfo]] = None,
    demo_model: Optional[str] = None,
    power_mode: Optional[str] = None,
) -> Capabilities:
    """Describe the device. ``root`` lets tests point at a fixture tree."""
    proc = os.path.join(root, "proc")
    etc = os.path.join(root, "etc")
    model = _read(os.path.join(proc, "device-tree", "model"))
    if not model:
        product = _read(os.path.join(root, "sys", "class", "dmi", "id", "product_name"))
        model = product or platform.machine() + " computer"
    l4t = None
    release = _read(os.path.join(etc, "nv_tegra_release"))
    if release:
        l4t = parse_nv_tegra_release(release)
    mem_total_mb = 0.0
    meminfo = _read(os.path.join(proc, "meminfo")) or ""
    match = re.search(r"MemTotal:\s+(\d+) kB", meminfo)
    if match:
        mem_total_mb = int(match.group(1)) / 1024.0
    return Capabilities(
        hostname=socket.gethostname(),
        model=model,
        os=_os_name(etc),
        arch=platform.machine(),
        python=platform.python_version(),
        cpu_count=os.cpu_count() or 1,
        memory_total_mb=mem_total_mb,
        gpus=list(gpus or []),
        l4t=l4t,
        jetpack=jetpack_for_l4t(l4t) if l4t else None,
        cuda=_cuda_version(root),
        tensorrt=_dist_version("tensorrt", "tensorrt-cu12", "tensorrt-cu13"),
        onnxruntime=_dist_version("onnxruntime", "onnxruntime-gpu"),
        backends=backends_available(),
        dla_cores=dla_cores_for_model(model) if l4t else 0,
        power_mode=power_mode,
        demo_model=demo_model,
        serial=read_serial(root),
    )


def summary(caps: Capabilities) -> Dict[str, str]:
    """A flat, human-readable view (for ``status`` and the GUI's device details)."""
    out = {
        "host": caps.hostname,
        "model": caps.model,
        "os": caps.os,
        "arch": caps.arch,
        "python": caps.python,
        "cpus": str(caps.cpu_count),
        "memory": "%.0f MB" % caps.memory_total_mb,
    }
    for gpu in caps.gpus:
        out["gpu %d" % gpu.index] = "%s (driver %s)" % (gpu.name, gpu.driver or "?")
    for key in ("serial", "l4t", "jetpack", "cuda", "tensorrt", "onnxruntime", "power_mode"):
        value = getattr(caps, key)
        if value:
            out[key] = value
    out["backends"] = ", ".join(caps.backends) or "none"
    return out


if __name__ == "__main__":  # pragma: no cover - manual probe
    sys.stdout.write("%s\n" % probe().to_wire())
