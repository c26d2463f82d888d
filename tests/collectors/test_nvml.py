"""NvmlCollector against a recorded stand-in for pynvml (no NVIDIA driver exists on CI machines).

The replayed readings are those of an idle A100-SXM4-40GB: 1410 MHz SM / 1215 MHz memory clocks
(its rated maximums), 400 W enforced power limit, software power cap (0x4) as the throttle reason.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from device_runtime.collectors.nvml import NvmlCollector, decode_throttle_reasons


class NotSupported(Exception):
    pass


class RecordedNvml:
    NVML_TEMPERATURE_GPU = 0
    NVML_CLOCK_SM = 1
    NVML_CLOCK_MEM = 2

    def __init__(self, new_api: bool = True) -> None:
        self.calls: list[str] = []
        if not new_api:  # drivers before 12.x only have the "Throttle" name
            self.nvmlDeviceGetCurrentClocksEventReasons = None  # type: ignore[method-assign,assignment]

    def nvmlInit(self) -> None:
        self.calls.append("init")

    def nvmlShutdown(self) -> None:
        self.calls.append("shutdown")

    def nvmlDeviceGetCount(self) -> int:
        return 1

    def nvmlSystemGetDriverVersion(self) -> bytes:
        return b"535.104.05"

    def nvmlDeviceGetHandleByIndex(self, index: int) -> str:
        return "gpu%d" % index

    def nvmlDeviceGetName(self, handle: Any) -> bytes:
        return b"NVIDIA A100-SXM4-40GB"

    def nvmlDeviceGetMemoryInfo(self, handle: Any) -> Any:
        return SimpleNamespace(total=40960 * 1024 * 1024, used=4 * 1024 * 1024)

    def nvmlDeviceGetCudaComputeCapability(self, handle: Any) -> Any:
        return (8, 0)

    def nvmlDeviceGetUtilizationRates(self, handle: Any) -> Any:
        return SimpleNamespace(gpu=0, memory=0)

    def nvmlDeviceGetTemperature(self, handle: Any, sensor: int) -> int:
        return 31

    def nvmlDeviceGetPowerUsage(self, handle: Any) -> int:
        return 52210

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: Any) -> int:
        return 400000

    def nvmlDeviceGetClockInfo(self, handle: Any, kind: int) -> int:
        return {self.NVML_CLOCK_SM: 1410, self.NVML_CLOCK_MEM: 1215}[kind]

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: Any) -> int:
        return 0x4

    def nvmlDeviceGetCurrentClocksThrottleReasons(self, handle: Any) -> int:
        return 0x4


def test_decode_throttle_reasons() -> None:
    assert decode_throttle_reasons(0x4) == ["software power cap"]
    assert decode_throttle_reasons(0) == []
    # Bit values of nvml.h as pynvml spells them (nvmlClocksEventReason*).
    assert decode_throttle_reasons(0x1 | 0x40 | 0x100) == ["gpu idle", "hw thermal slowdown", "display clock setting"]
    assert decode_throttle_reasons(0x10 | 0x8) == ["hardware slowdown", "sync boost"]
    assert decode_throttle_reasons(0x20 | 0x80) == ["sw thermal slowdown", "hw power brake slowdown"]
    assert decode_throttle_reasons(0x400) == ["unknown 0x400"]


def test_collects_clocks_power_limit_and_throttle() -> None:
    nv = RecordedNvml()
    collector = NvmlCollector(nvml=nv)
    values = collector.collect()
    assert values["gpu.0.sm_clock"] == 1410.0 and values["gpu.0.mem_clock"] == 1215.0
    assert values["gpu.0.power_limit"] == 400.0 and values["gpu.0.power"] == 52.21
    assert values["gpu.0.throttle_reasons"] == 4.0
    assert collector.state() == {"gpu.0.throttle": "software power cap"}
    assert set(values) == {s.name for s in collector.metrics()}
    collector.close()
    assert nv.calls == ["init", "shutdown"]


def test_older_driver_uses_throttle_reasons_call() -> None:
    collector = NvmlCollector(nvml=RecordedNvml(new_api=False))
    assert collector.collect()["gpu.0.throttle_reasons"] == 4.0
    collector.close()


def test_unsupported_queries_are_left_out() -> None:
    nv = RecordedNvml()

    def unsupported(*_: Any) -> int:
        raise NotSupported("Not Supported")  # what Jetson's NVML answers for most queries

    nv.nvmlDeviceGetClockInfo = unsupported  # type: ignore[method-assign,assignment]
    nv.nvmlDeviceGetEnforcedPowerLimit = unsupported  # type: ignore[method-assign,assignment]
    collector = NvmlCollector(nvml=nv)
    values = collector.collect()
    assert "gpu.0.sm_clock" not in values and "gpu.0.power_limit" not in values
    assert values["gpu.0.temp"] == 31.0
    collector.close()
