"""systemd notifications from a real daemon: READY=1, WATCHDOG=1 pings that stop when the
process is frozen (SIGSTOP) and resume when it continues, STOPPING=1 on shutdown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from device_runtime.server.watchdog import notify_address, watchdog_interval
from tests.support.daemons import stop_daemon


def test_notify_settings_are_read_from_the_environment() -> None:
    assert notify_address({}) is None
    assert notify_address({"NOTIFY_SOCKET": "relative"}) is None
    assert notify_address({"NOTIFY_SOCKET": "/run/systemd/notify"}) == "/run/systemd/notify"
    assert notify_address({"NOTIFY_SOCKET": "@abstract"}) == "\0abstract"
    assert watchdog_interval({"WATCHDOG_USEC": "10000000"}, 42) == 5.0
    assert watchdog_interval({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "41"}, 42) is None
    assert watchdog_interval({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "42"}, 42) == 5.0
    assert watchdog_interval({"WATCHDOG_USEC": "junk"}, 42) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}, 42) is None


class NotifyListener:
    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))

    def next(self, timeout: float) -> str | None:
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(4096).decode()
        except TimeoutError:
            return None

    def wait_for(self, word: str, timeout: float = 30.0) -> list[str]:
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            message = self.next(deadline - time.monotonic())
            if message is None:
                break
            seen.append(message)
            if word in message.split("\n"):
                return seen
        raise AssertionError("no %s within %.0f s; got %r" % (word, timeout, seen))


@pytest.fixture
def notified_daemon(short_tmp: Path) -> Iterator[tuple[subprocess.Popen[bytes], NotifyListener, Path]]:
    listener = NotifyListener(short_tmp / "notify")
    socket_path = short_tmp / "rt" / "edge-runtime.sock"
    env = dict(os.environ, NOTIFY_SOCKET=str(short_tmp / "notify"), WATCHDOG_USEC="200000")
    proc = subprocess.Popen(
        [sys.executable, "-m", "device_runtime", "serve", "--socket", str(socket_path), "--root",
         str(short_tmp / "root")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield proc, listener, socket_path
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGCONT)
        stop_daemon(socket_path)
        proc.wait(timeout=30)
    listener.sock.close()


def test_watchdog_pings_stop_while_frozen_and_resume(notified_daemon) -> None:
    proc, listener, _ = notified_daemon
    first = listener.wait_for("READY=1")
    assert "MAINPID=%d" % proc.pid in first[-1]
    listener.wait_for("WATCHDOG=1", timeout=5)
    listener.wait_for("WATCHDOG=1", timeout=5)

    os.kill(proc.pid, signal.SIGSTOP)
    # Drain what was sent before the stop took effect, then expect silence: 5 intervals.
    while listener.next(0.3) is not None:
        pass
    assert listener.next(1.0) is None, "a frozen daemon must not ping the watchdog"

    os.kill(proc.pid, signal.SIGCONT)
    listener.wait_for("WATCHDOG=1", timeout=5)


def test_stopping_is_announced_on_shutdown(notified_daemon) -> None:
    proc, listener, socket_path = notified_daemon
    listener.wait_for("READY=1")
    stop_daemon(socket_path)
    listener.wait_for("STOPPING=1", timeout=10)
    assert proc.wait(timeout=30) == 0


def test_a_stop_while_the_daemon_starts_is_a_clean_stop(notified_daemon) -> None:
    """`edge-runtime stop` sends SIGTERM as soon as a daemon holds its lock and wrote its pid,
    which is before its services have started. That must be a stop (STOPPING=1, exit 0, the
    socket removed), not a kill by the default signal action with nothing cleaned up."""
    proc, listener, socket_path = notified_daemon
    lock = Path(str(socket_path) + ".lock")
    pid = ""
    while not pid:
        try:
            pid = lock.read_text().strip()
        except FileNotFoundError:
            pass
        if not pid:
            with pytest.raises(subprocess.TimeoutExpired):  # it must not end before it serves
                proc.wait(timeout=0.002)
    assert int(pid) == proc.pid
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    listener.wait_for("STOPPING=1", timeout=5)  # already sent: the daemon has ended
    assert not socket_path.exists()
