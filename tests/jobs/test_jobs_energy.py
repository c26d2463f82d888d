"""Energy per inference: power from a replayed Jetson board tree (tests/fixtures/boards, real rail
labels and values with their sources in its README) and from NVML-shaped samples."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from device_runtime import protocol as p
from device_runtime.collectors.tegra import TegraCollector
from device_runtime.jobs.energy import EnergyMeter, board_power_w
from tests.support.jobs_harness import Harness, capabilities

BOARDS = Path(__file__).resolve().parents[1] / "fixtures" / "boards"
# orin-nano: VDD_IN 4984 mV x 1856 mA (tests/fixtures/boards/README.md).
ORIN_NANO_W = 4984 * 1856 / 1e6


def tegra(board: str) -> TegraCollector:
    root = BOARDS / board
    return TegraCollector(str(root / "sys"), str(root / "proc"), str(root / "etc"), str(root / "var"))


def test_board_power_prefers_the_input_rail() -> None:
    watts, source = board_power_w(tegra("orin-nano").collect()) or (0.0, "")
    assert watts == pytest.approx(ORIN_NANO_W, rel=1e-3) and "VDD_IN" in source
    agx = tegra("agx-orin").collect()  # no input rail on this carrier: the rails' sum
    watts, source = board_power_w(agx) or (0.0, "")
    rails = sum(v for k, v in agx.items() if k.startswith("power.")) / 1000.0
    assert source == "sum of the Jetson power rails" and watts == pytest.approx(rails) and watts > 5
    assert board_power_w({"gpu.0.power": 250.0, "gpu.1.power": 50.0}) == (300.0, "NVML board power of GPU 0, 1")
    assert board_power_w({"cpu.load": 3.0}) is None


def test_meter_window_and_too_short_runs() -> None:
    meter = EnergyMeter()
    for i, watts in enumerate([100.0, 10.0, 20.0, 30.0, 100.0]):
        meter.add(float(i), {"gpu.0.power": watts})
    mean, mj, source, note = meter.per_inference(1.0, 3.0, 400)
    assert mean == pytest.approx(20.0) and mj == pytest.approx(20.0 * 2.0 * 1000 / 400) and note == ""
    assert source.startswith("NVML")
    mean, mj, _, note = meter.per_inference(1.5, 1.9, 40)
    assert mean is None and mj is None and "run the benchmark longer" in note
    assert EnergyMeter().per_inference(0, 1, 1)[3].startswith("this device gives no power readings")


@pytest.mark.slow
def test_benchmark_on_a_replayed_orin_nano_reports_energy(tmp_path: Path, models_dir: Path) -> None:
    h = Harness(tmp_path / "root", capabilities(l4t="36.4.7", model="NVIDIA Jetson Orin Nano Engineering "
                                                "Reference Developer Kit Super"))
    board = tegra("orin-nano")
    stop = threading.Event()

    def telemetry() -> None:  # the daemon's sampler, at 20 Hz, fed from the replayed board tree
        while not stop.wait(0.05):
            h.service.on_sample(time.time(), board.collect())

    feeder = threading.Thread(target=telemetry, daemon=True)
    feeder.start()
    try:
        done = h.wait_final(h.submit("benchmark", {"model": str(models_dir / "demo_static.onnx"), "seconds": 1.0,
                                                   "warmup_s": 0.2}).id)
    finally:
        stop.set()
        feeder.join()
        h.close()
    assert done.state == p.JOB_SUCCEEDED, done.error
    result = p.BenchmarkResult.from_wire(done.result or {})
    assert result.mean_power_w == pytest.approx(ORIN_NANO_W, rel=1e-3) and "VDD_IN" in result.power_source
    inferences = result.throughput_qps * result.duration_s
    assert result.energy_mj_per_inference == pytest.approx(ORIN_NANO_W * result.duration_s * 1000 / inferences,
                                                           rel=1e-3)
    assert result.energy_note == ""
