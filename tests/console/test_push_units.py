"""The parts of a push that need no device: the rate it shows, which failures it retries, and
how its progress reads on a terminal and in a log."""

from __future__ import annotations

import io

import pytest

from console.cli.cmd_push import PushDisplay, progress_text
from console.core.devices.client import ConnectionLost, DeviceError, IncompatibleRuntime
from console.core.transfers.push import is_retryable
from console.core.transfers.push_progress import RECONNECTING, SENDING, VERIFYING, PushProgress
from console.core.transfers.rate_meter import RateMeter
from console.transport.base import TransportError
from console.transport.hostkeys import HostKeyError
from console.transport.sftp_upload import UploadError
from console.transport.ssh_errors import SshAuthError, SshError

MB = 1_000_000


def test_the_rate_is_measured_over_the_last_seconds_only() -> None:
    meter = RateMeter(window_s=3.0)
    for t in range(0, 11):  # 10 MB/s for 10 s
        meter.add(float(t), t * 10 * MB)
    assert meter.rate(10.0) == pytest.approx(10 * MB)
    for t in range(11, 15):  # then 1 MB/s
        meter.add(float(t), 100 * MB + (t - 10) * MB)
    assert meter.rate(14.0) == pytest.approx(1 * MB, rel=0.01)  # the fast start is forgotten


def test_a_stalled_transfer_has_no_rate_and_a_reset_forgets_the_past() -> None:
    meter = RateMeter(window_s=3.0)
    meter.add(0.0, 0)
    meter.add(1.0, 5 * MB)
    assert meter.rate(1.0) == pytest.approx(5 * MB)
    assert meter.rate(10.0) == 0.0  # nothing moved for longer than the window
    meter.reset()
    meter.add(11.0, 40 * MB)  # a resume from what the device held is not speed
    assert meter.rate(11.5) == 0.0


def test_time_left_only_while_sending() -> None:
    sending = PushProgress(SENDING, 30 * MB, 100 * MB, 7 * MB, 5.0, 1)
    assert sending.eta_s == pytest.approx(10.0) and sending.fraction == pytest.approx(0.3)
    assert PushProgress(RECONNECTING, 30 * MB, 100 * MB, 0.0, 5.0, 2).eta_s is None
    assert PushProgress(VERIFYING, 100 * MB, 100 * MB, 0.0, 5.0, 1).eta_s is None


@pytest.mark.parametrize(("exc", "retry"), [
    (ConnectionLost("the device closed the connection"), True),
    (DeviceError("the device did not answer within 60 s", "timeout"), True),
    (DeviceError("the uploaded bytes have sha256 ab, not the cd announced"), False),
    (IncompatibleRuntime("update the runtime", "incompatible"), False),
    (SshError("cannot reach 10.0.0.7:22"), True),
    (SshAuthError("the device refused every key"), False),
    (HostKeyError("the host key changed"), False),
    (UploadError("sending weights.bin over SFTP stopped: EOF"), True),
    (TransportError("the local runtime bridge has exited"), True),
    (EOFError(), True),
    (ValueError("a bug"), False),
])
def test_which_failures_a_push_retries(exc: BaseException, retry: bool) -> None:
    assert is_retryable(exc) is retry


def test_progress_reads_as_bytes_rate_and_time_left() -> None:
    assert progress_text("w.bin", PushProgress(SENDING, 96 * MB, 256 * MB, 3.2 * MB, 30.0, 1)) == \
        "w.bin  96.0 / 256.0 MB   38%  3.2 MB/s  50s left"
    assert progress_text("w.bin", PushProgress(RECONNECTING, 96 * MB, 256 * MB, 0.0, 40.0, 2,
                                               "connection lost; attempt 3 in 2.0 s")) == \
        "w.bin  96.0 / 256.0 MB   38%  link lost: connection lost; attempt 3 in 2.0 s"


def test_a_log_gets_a_line_per_tenth_and_per_change_a_terminal_every_tick() -> None:
    ticks = [PushProgress(SENDING, n * MB, 100 * MB, 5 * MB, n / 5, 1) for n in range(0, 101, 2)]
    ticks.insert(20, PushProgress(RECONNECTING, 40 * MB, 100 * MB, 0.0, 8.0, 1, "lost; attempt 2 in 1.0 s"))
    log = io.StringIO()
    display = PushDisplay(log, tty=False, name="w.bin")
    for tick in ticks:
        display.update(tick)
    lines = log.getvalue().splitlines()
    assert len(lines) == 12  # 0 %, 10 %, ... 100 %, and the reconnection
    assert any("link lost" in line for line in lines)
    terminal = io.StringIO()
    display = PushDisplay(terminal, tty=True, name="w.bin")
    for tick in ticks:
        display.update(tick)
    display.end()
    assert terminal.getvalue().count("\r") == len(ticks) and terminal.getvalue().endswith("\n")
