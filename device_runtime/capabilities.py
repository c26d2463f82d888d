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
from dataclasses import replace
from typing import Dict, List, Optional

from device_runtime.collectors.identity_facts import DlaCount, checked_dla_cores
from device_runtime.collectors.jetpack import jetpack_for_l4t, jetpack_label, read_l4t
from device_runtime.collectors.jetson_identity import BoardIdentity, read_identity
from device_runtime.protocol import Capabilities, GpuInfo


def _read(path: str) -> Optional[str]:
    try:
        with open(path, "rb") as handle:
            return handle.read(4096).replace(b"\x00", b"").decode("utf-8", "replace").strip()
    except OSError:
        return None


def jetson_gpus(identity: BoardIdentity, gpus: List[GpuInfo]) -> List[GpuInfo]:
    """NVML's GPUs with the compute capability filled in from the module table where NVML did
    not say (Orin's "nvgpu" answers NotSupported); the integrated GPU itself when NVML lists none."""
    cc = identity.compute_capability
    if not cc:
        return list(gpus)
    if not gpus:
        return [GpuInfo(0, "%s integrated GPU" % (identity.name or "Jetson"), None, None, cc)]
    return [g if g.compute_capability else replace(g, compute_capability=cc) for g in gpus]


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
    proc_root: Optional[str] = None,
    etc_root: Optional[str] = None,
    var_root: Optional[str] = None,
    tensorrt_dla: Optional[DlaCount] = None,
) -> Capabilities:
    """Describe the device. ``root`` (or the separate roots) lets tests point at a fixture tree.
    On a Jetson the DLA count is cross-checked with TensorRT's where TensorRT is importable
    (``tensorrt_dla`` asks it; by default a child process does)."""
    proc = proc_root or os.path.join(root, "proc")
    etc = etc_root or os.path.join(root, "etc")
    var = var_root or os.path.join(root, "var")
    identity = read_identity(proc)
    model = identity.model
    if not model:
        product = _read(os.path.join(root, "sys", "class", "dmi", "id", "product_name"))
        model = product or platform.machine() + " computer"
    l4t = read_l4t(etc, os.path.join(var, "lib", "dpkg", "status")).version
    jetson = l4t is not None or identity.soc is not None
    mem_total_mb = 0.0
    meminfo = _read(os.path.join(proc, "meminfo")) or ""
    match = re.search(r"MemTotal:\s+(\d+) kB", meminfo)
    if match:
        mem_total_mb = int(match.group(1)) / 1024.0
    return Capabilities(
        hostname=socket.gethostname(),
        board_model=model,
        os=_os_name(etc),
        arch=platform.machine(),
        python=platform.python_version(),
        cpu_count=os.cpu_count() or 1,
        memory_total_mb=mem_total_mb,
        gpus=jetson_gpus(identity, list(gpus or [])) if jetson else list(gpus or []),
        l4t=l4t,
        jetpack=jetpack_for_l4t(l4t) if l4t else None,
        cuda=_cuda_version(root),
        tensorrt=_dist_version("tensorrt", "tensorrt-cu12", "tensorrt-cu13"),
        onnxruntime=_dist_version("onnxruntime", "onnxruntime-gpu"),
        backends=backends_available(),
        dla_cores=checked_dla_cores(identity, tensorrt_dla) if jetson else 0,
        power_mode=power_mode,
        demo_model=demo_model,
        serial=read_serial(root),
        board=identity.name if jetson else None,
    )


def summary(caps: Capabilities) -> Dict[str, str]:
    """A flat, human-readable view (for ``status`` and the GUI's device details)."""
    out = {
        "host": caps.hostname,
        "model": caps.board_model,
        "os": caps.os,
        "arch": caps.arch,
        "python": caps.python,
        "cpus": str(caps.cpu_count),
        "memory": "%.0f MB" % caps.memory_total_mb,
    }
    for gpu in caps.gpus:
        detail = "driver %s" % gpu.driver if gpu.driver else "compute capability %s" % (gpu.compute_capability or "?")
        out["gpu %d" % gpu.index] = "%s (%s)" % (gpu.name, detail)
    for key in ("board", "serial", "l4t", "jetpack", "cuda", "tensorrt", "onnxruntime", "power_mode"):
        value = getattr(caps, key)
        if value:
            out[key] = value
    if caps.l4t and not caps.jetpack:
        out["jetpack"] = jetpack_label(caps.l4t)
    if caps.board:
        out["dla cores"] = str(caps.dla_cores)
    out["backends"] = ", ".join(caps.backends) or "none"
    return out


if __name__ == "__main__":  # pragma: no cover - manual probe
    sys.stdout.write("%s\n" % probe().to_wire())
