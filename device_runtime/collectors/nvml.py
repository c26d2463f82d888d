"""Discrete NVIDIA GPUs through NVML (nvidia-ml-py), imported lazily; absent when no driver."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from device_runtime.collectors.base import Collector
from device_runtime.protocol import GpuInfo, MetricSpec

_MB = 1024.0 * 1024.0


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
            prefix = "gpu.%d." % index
            try:
                out[prefix + "util"] = float(nv.nvmlDeviceGetUtilizationRates(handle).gpu)
            except Exception:
                pass
            try:
                out[prefix + "mem_used"] = nv.nvmlDeviceGetMemoryInfo(handle).used / _MB
            except Exception:
                pass
            try:
                out[prefix + "temp"] = float(nv.nvmlDeviceGetTemperature(handle, nv.NVML_TEMPERATURE_GPU))
            except Exception:
                pass
            try:
                out[prefix + "power"] = nv.nvmlDeviceGetPowerUsage(handle) / 1000.0
            except Exception:
                pass
        return out

    def absent(self) -> Dict[str, str]:
        return {"gpu": self._why_absent} if self._why_absent else {}

    def close(self) -> None:
        if self._nvml is not None and self._handles:
            try:
                self._nvml.nvmlShutdown()
            except Exception:
                pass
        self._handles = []
