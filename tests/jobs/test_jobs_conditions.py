"""Run conditions from telemetry samples, and the not-comparable badge on benchmark results."""

from __future__ import annotations

from pathlib import Path

import pytest

from device_runtime import protocol as p
from device_runtime.jobs.conditions import ConditionsRecorder
from tests.support.jobs_harness import Harness, capabilities


def test_throttle_bits_and_unlocked_jetson_clocks_make_a_run_not_comparable() -> None:
    rec = ConditionsRecorder(is_jetson=True)
    rec.add({"gpu.0.temp": 61.0, "temp.cpu-thermal": 55.0, "gpu.0.throttle_reasons": 0x1 | 0x2 | 0x100,
             "jetson.clocks_locked": 1.0, "jetson.power_mode": 2.0})
    assert rec.not_comparable() == []  # idle, application and display clock bits are not throttling
    rec.add({"gpu.0.temp": 83.0, "gpu.0.throttle_reasons": 0x20 | 0x4 | 0x10, "jetson.clocks_locked": 0.0})
    cond = rec.conditions()
    assert cond.temperatures_c == {"gpu0": 83.0, "cpu-thermal": 55.0}
    assert cond.throttled and cond.throttle_reasons == ["gpu0: software power cap", "gpu0: sw thermal slowdown"]
    assert cond.clocks_locked is False and cond.power_mode == "nvpmodel 2"
    why = rec.not_comparable()
    assert len(why) == 2 and "throttled" in why[0] and "jetson_clocks" in why[1]


def test_dgpu_without_clock_lock_metric_stays_comparable() -> None:
    rec = ConditionsRecorder(is_jetson=False)
    rec.add({"gpu.0.throttle_reasons": 0.0, "gpu.0.temp": 40.0})
    assert rec.not_comparable() == [] and rec.conditions().clocks_locked is None


@pytest.mark.slow
def test_benchmark_result_carries_the_conditions_seen(tmp_path: Path, models_dir: Path) -> None:
    h = Harness(tmp_path / "root", capabilities(l4t="36.4.3", power_mode="MAXN"))
    try:
        info = h.submit("benchmark", {"model": str(models_dir / "demo_static.onnx"), "seconds": 0.5,
                                      "warmup_s": 0.1})
        h.service.on_sample(1.0, {"gpu.0.throttle_reasons": 0x40, "gpu.0.temp": 91.0, "jetson.clocks_locked": 0.0})
        done = h.wait_final(info.id)
    finally:
        h.close()
    result = p.BenchmarkResult.from_wire(done.result or {})
    assert not result.comparable and len(result.not_comparable) == 2
    assert result.conditions.power_mode == "MAXN" and result.conditions.temperatures_c == {"gpu0": 91.0}
    assert result.conditions.throttle_reasons == ["gpu0: hw thermal slowdown"]
