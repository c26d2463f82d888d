"""NVIDIA GPUs through NVML (nvidia-ml-py), imported lazily; absent when no driver.

Which NVML function reads a metric is chosen by calling it: nvidia-ml-py defines every function it
knows in Python and raises ``NVMLError_FunctionNotFound`` at call time when the driver lacks it
(``nvmlDeviceGetCurrentClocksEventReasons`` before driver 535, ``nvmlDeviceGetTemperatureV``
before NVML 12.575), and NotSupported where the GPU has no such reading. Either selects the next
candidate; a metric with none left is reported once as not available, with every answer. On Orin
NVML lists "Orin (nvgpu)" and answers NotSupported to everything: the tegra collector reads it.
When NVML stops answering (GPU lost, driver reloaded) the collector re-initialises NVML at most
every ``retry_after`` seconds and chooses again.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

from device_runtime.collectors.base import Collector
from device_runtime.protocol import GpuInfo, MetricSpec

log = logging.getLogger(__name__)

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

# nvml.h return codes (pynvml's NVML_ERROR_*; the same in every nvidia-ml-py since 11.x).
NOT_SUPPORTED, FUNCTION_NOT_FOUND = 3, 13
_SOURCE_GONE = {1: "uninitialized", 9: "driver not loaded", 12: "library not found", 15: "GPU is lost",
                18: "driver/library version mismatch", 999: "unknown error"}

Read = Callable[[Any, Callable[..., Any], Any], float]  # (nvml module, function, handle) -> value


def _plain(nv: Any, fn: Callable[..., Any], handle: Any) -> float:
    return float(fn(handle))


def _temp(nv: Any, fn: Callable[..., Any], handle: Any) -> float:
    return float(fn(handle, nv.NVML_TEMPERATURE_GPU))


def _milli(nv: Any, fn: Callable[..., Any], handle: Any) -> float:
    return float(fn(handle)) / 1000.0  # mW -> W


class Query(NamedTuple):
    suffix: str
    candidates: Tuple[Tuple[str, Read], ...]  # tried in order


QUERIES = (
    Query("util", (("nvmlDeviceGetUtilizationRates", lambda nv, fn, h: float(fn(h).gpu)),)),
    Query("mem_used", (("nvmlDeviceGetMemoryInfo", lambda nv, fn, h: fn(h).used / _MB),)),
    Query("temp", (("nvmlDeviceGetTemperatureV", _temp), ("nvmlDeviceGetTemperature", _temp))),
    Query("power", (("nvmlDeviceGetPowerUsage", _milli),)),
    Query("power_limit", (("nvmlDeviceGetEnforcedPowerLimit", _milli),)),
    Query("sm_clock", (("nvmlDeviceGetClockInfo", lambda nv, fn, h: float(fn(h, nv.NVML_CLOCK_SM))),)),
    Query("mem_clock", (("nvmlDeviceGetClockInfo", lambda nv, fn, h: float(fn(h, nv.NVML_CLOCK_MEM))),)),
    Query("throttle_reasons", (("nvmlDeviceGetCurrentClocksEventReasons", _plain),
                               ("nvmlDeviceGetCurrentClocksThrottleReasons", _plain))),
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


def _code(exc: BaseException) -> Optional[int]:
    value = getattr(exc, "value", None)
    return value if isinstance(value, int) else None


def _spec(index: int, count: int, suffix: str, mem_total: Optional[float]) -> MetricSpec:
    title = "GPU %d" % index if count > 1 else "GPU"
    name = f"gpu.{index}.{suffix}"
    return {
        "util": MetricSpec(name, title, "%", "GPU", "GPU load", min=0, max=100),
        "mem_used": MetricSpec(name, title, "MB", "GPU", "GPU memory", min=0, max=mem_total),
        "temp": MetricSpec(name, title, "°C", "GPU", "GPU temperature", min=0, max=110),
        "power": MetricSpec(name, title, "W", "GPU", "GPU power", min=0),
        "power_limit": MetricSpec(name, f"{title} limit", "W", "GPU", "GPU power", min=0),
        "sm_clock": MetricSpec(name, f"{title} SM", "MHz", "GPU", "GPU clocks", min=0),
        "mem_clock": MetricSpec(name, f"{title} memory", "MHz", "GPU", "GPU clocks", min=0),
        "throttle_reasons": MetricSpec(name, title, "", "GPU", "Throttle reasons", min=0,
                                       description="NVML clocks-event bitmask; see decode_throttle_reasons"),
    }[suffix]


class _Chosen(NamedTuple):
    spec: MetricSpec
    function: str
    read: Read
    rest: Tuple[Tuple[str, Read], ...]  # the candidates after the chosen one
    handle: Any


class NvmlCollector(Collector):
    """Utilisation, memory, temperature, power, clocks and throttle reasons per GPU.

    ``nvml`` is the ``pynvml`` module; tests pass a strict stand-in built from a real
    nvidia-ml-py's function table, production passes nothing and the real library is loaded here.
    """

    name = "nvml"

    def __init__(self, nvml: Optional[Any] = None, clock: Callable[[], float] = time.monotonic,
                 retry_after: float = 30.0) -> None:
        self._nvml = nvml
        self._clock = clock
        self._retry_after = retry_after
        self._handles: List[Any] = []
        self._gpus: List[GpuInfo] = []
        self._why_absent: Optional[str] = None
        self._missing: Dict[str, str] = {}
        self._chosen: Dict[str, _Chosen] = {}
        self._specs: List[MetricSpec] = []
        self._lost_at: Optional[float] = None
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
        try:
            driver: Optional[str] = _text(nv.nvmlSystemGetDriverVersion())
        except Exception:
            driver = None
        for index in range(count):
            self._open_device(nv, index, count, driver)
        if not self._handles:
            self._why_absent = "NVML found no GPU"

    def _open_device(self, nv: Any, index: int, count: int, driver: Optional[str]) -> None:
        handle = nv.nvmlDeviceGetHandleByIndex(index)
        name = _text(nv.nvmlDeviceGetName(handle))
        mem_total: Optional[float] = None
        with contextlib.suppress(Exception):
            mem_total = nv.nvmlDeviceGetMemoryInfo(handle).total / _MB
        cc: Optional[str] = None
        with contextlib.suppress(Exception):
            major, minor = nv.nvmlDeviceGetCudaComputeCapability(handle)
            cc = "%d.%d" % (major, minor)
        self._handles.append(handle)
        self._gpus.append(GpuInfo(index, name, driver, mem_total, cc))
        answers: Dict[str, str] = {}
        for query in QUERIES:
            spec = _spec(index, count, query.suffix, mem_total)
            why = self._choose(spec, query.candidates, handle)
            if why is not None:
                answers[spec.name] = why
        if answers and len(answers) == len(QUERIES):
            every = sorted({part.split(": ", 1)[-1] for why in answers.values() for part in why.split("; ")})
            tail = "; the tegra collector reads this GPU from sysfs" if "nvgpu" in name.lower() else ""
            self._missing[f"gpu.{index}"] = ("not available on this board: NVML lists %s but answers %s to every "
                                             "query%s" % (name, " / ".join(every), tail))
        else:
            for metric, why in answers.items():
                self._missing[metric] = "not available on this board: %s" % why

    def _choose(self, spec: MetricSpec, candidates: Tuple[Tuple[str, Read], ...], handle: Any) -> Optional[str]:
        """Declare ``spec`` with the first candidate that answers (None); else say what each answered."""
        nv = self._nvml
        tried = []
        for at, (function, read) in enumerate(candidates):
            fn = getattr(nv, function, None)
            if fn is None:
                tried.append("%s is not in this nvidia-ml-py" % function)
                continue
            try:
                read(nv, fn, handle)
            except Exception as exc:
                code = _code(exc)
                if code == FUNCTION_NOT_FOUND:
                    tried.append("%s: the driver does not have it" % function)
                    continue
                if code == NOT_SUPPORTED:
                    tried.append("%s: NotSupported" % function)
                    continue
                # anything else may pass (a GPU busy resetting): the function exists, keep it
            self._chosen[spec.name] = _Chosen(spec, function, read, candidates[at + 1:], handle)
            self._specs.append(spec)
            return None
        return "; ".join(tried) or "no other NVML function reads it"

    @property
    def gpus(self) -> List[GpuInfo]:
        return list(self._gpus)

    def metrics(self) -> List[MetricSpec]:
        return list(self._specs)

    def sources(self) -> Dict[str, str]:
        return {name: chosen.function for name, chosen in self._chosen.items()}

    def collect(self) -> Dict[str, float]:
        out: Dict[str, float] = {}
        if self._lost_at is not None:
            if self._clock() - self._lost_at < self._retry_after:
                return out
            self._reopen()
        nv = self._nvml
        if nv is None:
            return out
        for name, chosen in list(self._chosen.items()):
            try:
                out[name] = chosen.read(nv, getattr(nv, chosen.function), chosen.handle)
            except Exception as exc:
                code = _code(exc)
                if code in (FUNCTION_NOT_FOUND, NOT_SUPPORTED):
                    self._fall_back(chosen, exc)
                elif code in _SOURCE_GONE:
                    self._lose("NVML stopped answering (%s: %s)" % (chosen.function, _SOURCE_GONE[code]))
                    return {}
                # any other failure: left out of this sample
        return out

    def _fall_back(self, chosen: _Chosen, exc: BaseException) -> None:
        """A function that answered before says NotFound/NotSupported now: take the next one."""
        del self._chosen[chosen.spec.name]
        self._specs = [s for s in self._specs if s.name != chosen.spec.name]
        why = self._choose(chosen.spec, chosen.rest, chosen.handle)
        if why is not None:
            reason = "%s stopped answering (%s); %s" % (chosen.function, exc, why)
            self._missing[chosen.spec.name] = "not available on this board: %s" % reason
            log.warning("%s: %s", chosen.spec.name, self._missing[chosen.spec.name])
        else:
            log.warning("%s: %s stopped answering (%s); reading it with %s now", chosen.spec.name, chosen.function,
                        exc, self._chosen[chosen.spec.name].function)

    def _lose(self, why: str) -> None:
        log.warning("%s; re-initialising NVML every %g s", why, self._retry_after)
        self._why_absent = "%s; trying again every %g s" % (why, self._retry_after)
        self._lost_at = self._clock()

    def _reopen(self) -> None:
        nv: Any = self._nvml
        with contextlib.suppress(Exception):  # shutting down a lost driver must not raise
            nv.nvmlShutdown()
        before = self.sources()
        self._handles, self._gpus, self._chosen, self._specs, self._missing = [], [], {}, [], {}
        self._why_absent, self._lost_at = None, None
        self._open()
        if self._nvml is None or not self._handles:
            self._nvml = nv
            self._lose(self._why_absent or "NVML found no GPU")
            return
        log.warning("NVML answers again; sources: %s", ", ".join(
            "%s=%s" % item for item in sorted(self.sources().items())) or "none")
        gone = sorted(set(before) - set(self._chosen))
        if gone:
            log.warning("NVML no longer gives %s", ", ".join(gone))

    def _throttle_mask(self, index: int) -> int:
        chosen = self._chosen[f"gpu.{index}.throttle_reasons"]
        return int(chosen.read(self._nvml, getattr(self._nvml, chosen.function), chosen.handle))

    def state(self) -> Dict[str, str]:
        """Throttle reasons per GPU in words, for the console's status line."""
        out: Dict[str, str] = {}
        if self._nvml is None or self._lost_at is not None:
            return out
        for index in range(len(self._handles)):
            try:
                reasons = decode_throttle_reasons(self._throttle_mask(index))
            except Exception:  # not chosen on this GPU, or failing now
                continue
            out[f"gpu.{index}.throttle"] = ", ".join(reasons) or "none"
        return out

    def absent(self) -> Dict[str, str]:
        out = dict(self._missing)
        if self._why_absent:
            out["gpu"] = self._why_absent
        return out

    def close(self) -> None:
        if self._nvml is not None and self._handles:
            with contextlib.suppress(Exception):  # shutting down a lost driver must not raise
                self._nvml.nvmlShutdown()
        self._handles = []
