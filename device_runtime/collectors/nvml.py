"""Discrete NVIDIA GPUs through NVML (nvidia-ml-py), imported lazily; absent when no driver."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Dict, List, Optional

from device_runtime.collectors.base import Collector
from device_runtime.protocol import GpuInfo, MetricSpec

_MB = 1024.0 * 1024.0

# nvmlClocksEventReasons / nvmlClocksThrottleReasons bits, as nvml.h (and pynvml) define them.
THROTTLE_REASONS = (
    (0x1, "gpu idle"),
    (0x2, "applications clocks setting"),
    (0x4, "software power cap"),
    (0x8, "hardware slowdown"),
    (0x10, "sync boost"),
    (0x20, "sw thermal slowdown"),
    (0x40, "hw thermal slowdown"),
    (0x80, "hw power brake slowdown"),
    (0x100, "display clock setting"),
)


def decode_throttle_reasons(mask: int) -> List[str]:
    """Name every set bit of an NVML clocks-event mask; unknown bits are named by value."""
    names = [name for bit, name in THROTTLE_REASONS if mask & bit]
    known = 0
    for bit, _ in THROTTLE_REASONS:
        known |= bit
    rest = mask & ~known
    bit = 1
    while rest:
        if rest & bit:
            names.append(f"unknown 0x{bit:x}")
            rest &= ~bit
        bit <<= 1
    return names


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class NvmlCollector(Collector):
    """Utilisation, memory, temperature and power per GPU.

    ``nvml`` is the ``pynvml`` module; tests pass a recorded stand-in, production passes
    nothing and the real library is loaded here.
    """

    name = "nvml"

    def __init__(self, nvml: Optional[Any] = None) -> None:
        self._nvml = nvml
        self._handles: List[Any] = []
        self._gpus: List[GpuInfo] = []
        self._why_absent: Optional[str] = None
        self._specs: List[MetricSpec] = []
        self._open()

    def _open(self) -> None:
        if self._nvml is None:
            try:
                import pynvml
            except ImportError:
                self._why_absent = "nvidia-ml-py is not installed"
                return
            self._nvml = pynvml
        nv = self._nvml
        try:
            nv.nvmlInit()
            count = nv.nvmlDeviceGetCount()
        except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
            self._why_absent = "NVML unavailable: %s" % exc
            self._nvml = None
            return
        driver = None
        try:
            driver = _text(nv.nvmlSystemGetDriverVersion())
        except Exception:
            driver = None
        for index in range(count):
            handle = nv.nvmlDeviceGetHandleByIndex(index)
            name = _text(nv.nvmlDeviceGetName(handle))
            mem_total = None
            try:
                mem_total = nv.nvmlDeviceGetMemoryInfo(handle).total / _MB
            except Exception:
                mem_total = None
            cc = None
            try:
                major, minor = nv.nvmlDeviceGetCudaComputeCapability(handle)
                cc = "%d.%d" % (major, minor)
            except Exception:
                cc = None
            self._handles.append(handle)
            self._gpus.append(GpuInfo(index, name, driver, mem_total, cc))
            title = "GPU %d" % index if count > 1 else "GPU"
            self._specs += [
                MetricSpec("gpu.%d.util" % index, title, "%", "GPU", "GPU load", min=0, max=100),
                MetricSpec("gpu.%d.mem_used" % index, title, "MB", "GPU", "GPU memory", min=0, max=mem_total),
                MetricSpec("gpu.%d.temp" % index, title, "°C", "GPU", "GPU temperature", min=0, max=110),
                MetricSpec("gpu.%d.power" % index, title, "W", "GPU", "GPU power", min=0),
                MetricSpec(f"gpu.{index}.power_limit", f"{title} limit", "W", "GPU", "GPU power", min=0),
                MetricSpec(f"gpu.{index}.sm_clock", f"{title} SM", "MHz", "GPU", "GPU clocks", min=0),
                MetricSpec(f"gpu.{index}.mem_clock", f"{title} memory", "MHz", "GPU", "GPU clocks", min=0),
                MetricSpec(f"gpu.{index}.throttle_reasons", title, "", "GPU", "Throttle reasons", min=0,
                           description="NVML clocks-event bitmask; see decode_throttle_reasons"),
            ]
        if not self._handles:
            self._why_absent = "NVML found no GPU"

    @property
    def gpus(self) -> List[GpuInfo]:
        return list(self._gpus)

    def metrics(self) -> List[MetricSpec]:
        return list(self._specs)

    def collect(self) -> Dict[str, float]:
        nv = self._nvml
        out: Dict[str, float] = {}
        if nv is None:
            return out
        for index, handle in enumerate(self._handles):
            self._collect_one(out, f"gpu.{index}.", handle)
        return out

    def _collect_one(self, out: Dict[str, float], prefix: str, handle: Any) -> None:
        nv: Any = self._nvml
        _put(out, prefix + "util", lambda: nv.nvmlDeviceGetUtilizationRates(handle).gpu)
        _put(out, prefix + "mem_used", lambda: nv.nvmlDeviceGetMemoryInfo(handle).used / _MB)
        _put(out, prefix + "temp", lambda: nv.nvmlDeviceGetTemperature(handle, nv.NVML_TEMPERATURE_GPU))
        _put(out, prefix + "power", lambda: nv.nvmlDeviceGetPowerUsage(handle) / 1000.0)  # mW -> W
        _put(out, prefix + "power_limit", lambda: nv.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000.0)
        _put(out, prefix + "sm_clock", lambda: nv.nvmlDeviceGetClockInfo(handle, nv.NVML_CLOCK_SM))
        _put(out, prefix + "mem_clock", lambda: nv.nvmlDeviceGetClockInfo(handle, nv.NVML_CLOCK_MEM))
        _put(out, prefix + "throttle_reasons", lambda: self._throttle_mask(handle))

    def _throttle_mask(self, handle: Any) -> int:
        """NVML 12.x renamed the call "ClocksEventReasons"; older drivers only have "Throttle"."""
        nv: Any = self._nvml
        read = getattr(nv, "nvmlDeviceGetCurrentClocksEventReasons", None)
        if read is None:
            read = nv.nvmlDeviceGetCurrentClocksThrottleReasons
        return int(read(handle))

    def state(self) -> Dict[str, str]:
        """Throttle reasons per GPU in words, for the console's status line."""
        out: Dict[str, str] = {}
        if self._nvml is None:
            return out
        for index, handle in enumerate(self._handles):
            try:
                reasons = decode_throttle_reasons(self._throttle_mask(handle))
            except Exception:  # NVMLError_NotSupported on some GPUs and on Jetson
                continue
            out[f"gpu.{index}.throttle"] = ", ".join(reasons) or "none"
        return out

    def absent(self) -> Dict[str, str]:
        return {"gpu": self._why_absent} if self._why_absent else {}

    def close(self) -> None:
        if self._nvml is not None and self._handles:
            with contextlib.suppress(Exception):  # shutting down a lost driver must not raise
                self._nvml.nvmlShutdown()
        self._handles = []


def _put(out: Dict[str, float], name: str, read: Callable[[], float]) -> None:
    """Store one NVML reading; a query the GPU or driver does not support is left out."""
    with contextlib.suppress(Exception):  # NVMLError_NotSupported, GPU lost, ...
        out[name] = float(read())
