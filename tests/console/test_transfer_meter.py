"""The transfer meter's wording and pacing, on a clock the test moves."""

from __future__ import annotations

from console.core.transfers.progress import CHECKING, SENDING, VERIFYING, TransferMeter

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


def test_the_rate_follows_the_last_seconds_so_a_stall_shows_at_once() -> None:
    clock = Clock()
    meter = TransferMeter("m", 100 * MB, clock)
    for second in range(11):  # 5 MB/s for 10 s
        status = meter.update(second * 5 * MB, 100 * MB)
        clock.t += 1.0
    assert status.rate_bps == 5 * MB and status.eta_s == 10.0
    clock.t += 10.0  # the link stalls: no rate and no time left, rather than an old average
    stalled = meter.update(status.sent, 100 * MB)
    assert stalled.rate_bps is None and stalled.eta_s is None
    for second in range(1, 5):  # it moves again at 1 MB/s: the rate says so within the window
        clock.t += 1.0
        moving = meter.update(stalled.sent + second * MB, 100 * MB)
    assert moving.rate_bps is not None and 0.9 * MB <= moving.rate_bps <= 1.1 * MB
