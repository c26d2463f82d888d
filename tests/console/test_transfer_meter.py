"""The transfer meter's wording and pacing, on a clock the test moves."""

from __future__ import annotations

from console.core.transfer import CHECKING, SENDING, VERIFYING, TransferMeter

MB = 1_000_000


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_rate_and_time_left_once_there_is_something_to_measure() -> None:
    clock = Clock()
    meter = TransferMeter("big.onnx", 100 * MB, clock)
    assert meter.checking().phase == CHECKING
    assert "Checking big.onnx (100.0 MB) before sending it to robot" in meter.checking().text("robot")
    first = meter.update(10 * MB, 100 * MB)  # a resumed upload starts at 10 MB: no rate yet
    assert first.phase == SENDING and first.rate_bps is None and first.eta_s is None
    assert first.text("robot") == "Sending big.onnx to robot: 10.0 MB of 100.0 MB"
    clock.t += 2.0
    later = meter.update(50 * MB, 100 * MB)  # 40 MB in 2 s, counted from where it resumed
    assert later.rate_bps == 20 * MB and later.eta_s == 2.5
    assert later.text("robot").startswith("Sending big.onnx to robot: 50.0 MB of 100.0 MB at 20.0 MB/s, ")
    assert later.text("robot").endswith(" left") and abs(later.fraction - 0.5) < 1e-9
    done = meter.update(100 * MB, 100 * MB)
    assert done.phase == VERIFYING and "the device is checking it" in done.text("robot")


def test_reports_are_paced_but_the_last_one_always_goes_out() -> None:
    clock = Clock()
    meter = TransferMeter("m", 10 * MB, clock, interval_s=0.25)
    assert meter.due(meter.update(1 * MB, 10 * MB))
    clock.t += 0.1
    assert not meter.due(meter.update(2 * MB, 10 * MB))
    clock.t += 0.2
    assert meter.due(meter.update(3 * MB, 10 * MB))
    assert meter.due(meter.update(10 * MB, 10 * MB))  # verifying: shown at once
