"""NVML function choice against the real nvidia-ml-py 11.x, 12.x and 13.x function tables.

``fixtures/nvml/pynvml-<version>.txt`` lists every ``nvml*`` function and the NVML_* constants
the wheel's ``pynvml.py`` defines (sources and sha256 in the fixture README). The stand-in below
exposes only those names, and behaves as pynvml does on a driver: a function the wheel defines
but the driver lacks raises an NVMLError whose ``value`` is NVML_ERROR_FUNCTION_NOT_FOUND (13)
at call time; an unsupported reading raises NVML_ERROR_NOT_SUPPORTED (3).
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest

from device_runtime.capabilities import jetson_gpus
from device_runtime.collectors.jetson_identity import read_identity
from device_runtime.collectors.nvml import NvmlCollector

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
VERSIONS = ("11.525.150", "12.535.161", "13.580.82")
CONSTANTS = {"NVML_TEMPERATURE_GPU": 0, "NVML_CLOCK_SM": 1, "NVML_CLOCK_MEM": 2, "NVML_ERROR_NOT_SUPPORTED": 3,
             "NVML_ERROR_FUNCTION_NOT_FOUND": 13, "NVML_ERROR_GPU_IS_LOST": 15}


def table(version: str) -> frozenset[str]:
    return frozenset((FIXTURES / "nvml" / f"pynvml-{version}.txt").read_text().split())


class NVMLError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__({3: "Not Supported", 13: "Function Not Found", 15: "GPU is lost"}.get(value, str(value)))
        self.value = value


class Fail:
    def __init__(self, code: int) -> None:
        self.code = code


# An A100 on three driver generations: what each C library answers. Event reasons came with
# driver 535, the versioned temperature call with the 575 series.
A100 = {
    "nvmlInit": None, "nvmlShutdown": None, "nvmlDeviceGetCount": 1, "nvmlSystemGetDriverVersion": b"580.82.07",
    "nvmlDeviceGetHandleByIndex": "gpu0", "nvmlDeviceGetName": b"NVIDIA A100-SXM4-40GB",
    "nvmlDeviceGetMemoryInfo": types.SimpleNamespace(total=40960 * 1024 * 1024, used=4 * 1024 * 1024),
    "nvmlDeviceGetCudaComputeCapability": (8, 0), "nvmlDeviceGetUtilizationRates": types.SimpleNamespace(gpu=37),
    "nvmlDeviceGetTemperature": 31, "nvmlDeviceGetTemperatureV": 31, "nvmlDeviceGetPowerUsage": 52210,
    "nvmlDeviceGetEnforcedPowerLimit": 400000, "nvmlDeviceGetClockInfo": {1: 1410, 2: 1215},
    "nvmlDeviceGetCurrentClocksEventReasons": 0x4, "nvmlDeviceGetCurrentClocksThrottleReasons": 0x4,
}
DRIVER_580 = dict(A100)
DRIVER_535 = {k: v for k, v in A100.items() if k != "nvmlDeviceGetTemperatureV"}
DRIVER_525 = {k: v for k, v in DRIVER_535.items() if k != "nvmlDeviceGetCurrentClocksEventReasons"}
# Orin: NVML lists the integrated GPU, then answers NotSupported to every query (JetPack 6).
ORIN = {"nvmlInit": None, "nvmlShutdown": None, "nvmlDeviceGetCount": 1, "nvmlSystemGetDriverVersion": b"540.4.0",
        "nvmlDeviceGetHandleByIndex": "gpu0", "nvmlDeviceGetName": b"Orin (nvgpu)",
        **{name: Fail(3) for name in A100 if name.startswith("nvmlDeviceGet") and name not in (
            "nvmlDeviceGetCount", "nvmlDeviceGetHandleByIndex", "nvmlDeviceGetName")}}


def make_nvml(version: str, driver: dict[str, Any]) -> types.SimpleNamespace:
    names = table(version)
    assert set(CONSTANTS) <= names
    module = types.SimpleNamespace(driver=driver, **CONSTANTS)

    def function(name: str) -> Any:
        def call(*args: Any) -> Any:
            if name not in module.driver:
                raise NVMLError(13)
            answer = module.driver[name]
            if isinstance(answer, Fail):
                raise NVMLError(answer.code)
            if isinstance(answer, dict):
                return answer[args[1]]
            return answer
        return call

    for name in A100:
        if name in names:  # a function this nvidia-ml-py does not define is simply not there
            setattr(module, name, function(name))
    return module


@pytest.mark.parametrize(("version", "driver", "temp", "reasons"), [
    ("11.525.150", DRIVER_525, "nvmlDeviceGetTemperature", "nvmlDeviceGetCurrentClocksThrottleReasons"),
    ("11.525.150", DRIVER_580, "nvmlDeviceGetTemperature", "nvmlDeviceGetCurrentClocksThrottleReasons"),
    ("12.535.161", DRIVER_525, "nvmlDeviceGetTemperature", "nvmlDeviceGetCurrentClocksThrottleReasons"),
    ("12.535.161", DRIVER_535, "nvmlDeviceGetTemperature", "nvmlDeviceGetCurrentClocksEventReasons"),
    ("13.580.82", DRIVER_525, "nvmlDeviceGetTemperature", "nvmlDeviceGetCurrentClocksThrottleReasons"),
    ("13.580.82", DRIVER_535, "nvmlDeviceGetTemperature", "nvmlDeviceGetCurrentClocksEventReasons"),
    ("13.580.82", DRIVER_580, "nvmlDeviceGetTemperatureV", "nvmlDeviceGetCurrentClocksEventReasons"),
])
def test_functions_are_chosen_by_calling_them(version: str, driver: dict[str, Any], temp: str, reasons: str) -> None:
    collector = NvmlCollector(nvml=make_nvml(version, driver))
    try:
        sources = collector.sources()
        assert sources["gpu.0.temp"] == temp and sources["gpu.0.throttle_reasons"] == reasons
        values = collector.collect()
        assert set(values) == {s.name for s in collector.metrics()} and len(values) == 8
        assert values["gpu.0.throttle_reasons"] == 4.0 and values["gpu.0.temp"] == 31.0
        assert collector.state() == {"gpu.0.throttle": "software power cap"} and collector.absent() == {}
    finally:
        collector.close()


def test_orin_under_nvml_is_reported_once_and_declares_nothing() -> None:
    collector = NvmlCollector(nvml=make_nvml("13.580.82", ORIN))
    try:
        assert collector.metrics() == [] and collector.collect() == {}
        assert collector.absent() == {"gpu.0": "not available on this board: NVML lists Orin (nvgpu) but answers "
                                                "NotSupported to every query; the tegra collector reads this GPU "
                                                "from sysfs"}
        (gpu,) = collector.gpus
        assert gpu.name == "Orin (nvgpu)" and gpu.compute_capability is None
        # The handshake still names its compute capability, from the module table.
        identity = read_identity(str(FIXTURES / "boards" / "orin-nano" / "proc"))
        assert [g.compute_capability for g in jetson_gpus(identity, collector.gpus)] == ["8.7"]
    finally:
        collector.close()


def test_a_reading_the_gpu_lacks_is_named_with_every_answer() -> None:
    driver = dict(DRIVER_525, nvmlDeviceGetEnforcedPowerLimit=Fail(3),
                  nvmlDeviceGetCurrentClocksThrottleReasons=Fail(3))
    collector = NvmlCollector(nvml=make_nvml("13.580.82", driver))
    try:
        assert collector.absent() == {
            "gpu.0.power_limit": "not available on this board: nvmlDeviceGetEnforcedPowerLimit: NotSupported",
            "gpu.0.throttle_reasons": "not available on this board: nvmlDeviceGetCurrentClocksEventReasons: the driver "
                                      "does not have it; nvmlDeviceGetCurrentClocksThrottleReasons: NotSupported",
        }
        assert len(collector.collect()) == 6 and collector.state() == {}
    finally:
        collector.close()


def test_a_function_that_stops_answering_falls_back_to_the_next() -> None:
    nv = make_nvml("13.580.82", dict(DRIVER_580))
    collector = NvmlCollector(nvml=nv)
    try:
        assert collector.sources()["gpu.0.temp"] == "nvmlDeviceGetTemperatureV"
        nv.driver["nvmlDeviceGetTemperatureV"] = Fail(3)
        collector.collect()  # this sample misses the temperature; the next source is chosen
        assert collector.sources()["gpu.0.temp"] == "nvmlDeviceGetTemperature"
        assert collector.collect()["gpu.0.temp"] == 31.0
        nv.driver["nvmlDeviceGetTemperature"] = Fail(3)
        collector.collect()
        assert "gpu.0.temp" not in collector.sources() and "gpu.0.temp" not in {s.name for s in collector.metrics()}
        assert collector.absent()["gpu.0.temp"] == ("not available on this board: nvmlDeviceGetTemperature stopped "
                                                    "answering (Not Supported); no other NVML function reads it")
    finally:
        collector.close()


def test_a_lost_gpu_is_reported_and_nvml_is_opened_again() -> None:
    nv = make_nvml("12.535.161", dict(DRIVER_535))
    now = [0.0]
    collector = NvmlCollector(nvml=nv, clock=lambda: now[0], retry_after=30.0)
    try:
        assert len(collector.collect()) == 8
        healthy = dict(nv.driver)
        nv.driver = {**healthy, **{k: Fail(15) for k in healthy if k.startswith("nvmlDeviceGet")}}
        assert collector.collect() == {}
        assert collector.absent()["gpu"].startswith("NVML stopped answering (nvmlDeviceGetUtilizationRates: GPU is "
                                                    "lost); trying again every 30 s")
        nv.driver = healthy
        now[0] = 10.0
        assert collector.collect() == {}  # not yet: NVML is re-opened at most every 30 s
        now[0] = 31.0
        values = collector.collect()
        assert len(values) == 8 and collector.absent() == {}
        assert collector.sources()["gpu.0.throttle_reasons"] == "nvmlDeviceGetCurrentClocksEventReasons"
    finally:
        collector.close()
