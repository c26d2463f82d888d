"""Jobs outlive the console: Ctrl-C detaches or cancels, a dropped link re-attaches from the
last log offset. Real daemon, real worker processes, edgectl as a real process under a pty."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from console.core.app import ConsoleCore
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from console.core.jobs.tracker import JobTracker
from device_runtime.demo_model import build_demo_model
from device_runtime.protocol import BenchmarkSpec
from tests.support.jobs_cli import run


def wait_until(condition: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        pause.wait(0.05)


@pytest.fixture
def model(tmp_path: Path) -> Iterator[Path]:
    import onnx

    path = tmp_path / "demo.onnx"
    onnx.save(build_demo_model(), str(path))
    yield path


def _edgectl(env: ConsoleEnv, argv: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
    environ = {"HOME": str(env.config_dir.parent), "XDG_RUNTIME_DIR": str(env.runtime_dir),
               "XDG_DATA_HOME": str(env.data_dir.parent), "XDG_CONFIG_HOME": str(env.config_dir.parent),
               "PATH": "/usr/bin:/bin"}
    env.runtime_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, "-m", "console.cli.main", *argv], env=environ, **kwargs)  # type: ignore[call-overload, no-any-return]


def _console_env(short_tmp: Path) -> ConsoleEnv:
    # The paths the subprocess derives from XDG_* must equal the fixture's.
    return ConsoleEnv(config_dir=short_tmp / "cfg" / "edge-console", data_dir=short_tmp / "data" / "edge-console",
                      runtime_dir=short_tmp / "run", environ={"HOME": str(short_tmp)})


@pytest.fixture
def cli_env(short_tmp: Path) -> Iterator[ConsoleEnv]:
    env = _console_env(short_tmp)
    yield env
    from tests.support.daemons import stop_daemon

    stop_daemon(env.local_socket)


def _read_until(stream: object, needle: bytes, timeout: float = 60.0) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    fd = stream if isinstance(stream, int) else stream.fileno()  # type: ignore[attr-defined]
    while needle not in seen:
        if time.monotonic() > deadline:
            raise AssertionError("no %r in %r" % (needle, seen))
        chunk = os.read(fd, 4096)
        if not chunk:
            raise AssertionError("stream ended before %r: %r" % (needle, seen))
        seen += chunk
    return seen


def test_ctrl_c_in_a_script_detaches_and_the_job_keeps_running(cli_env: ConsoleEnv, model: Path) -> None:
    proc = _edgectl(cli_env, ["bench", str(model), "--shape", "image:1x3x64x64", "--seconds", "60"],
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stderr is not None and proc.stdout is not None
    head = _read_until(proc.stderr, b"measuring")  # ready line: the job is running on the device
    job_id = head.decode().split()[1]
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == ExitCode.DETACHED
    message = err.decode().strip().splitlines()[-1]
    assert message.startswith("edgectl: detached from benchmark (%s); it keeps running on local." % job_id)
    assert message.endswith("Re-attach with: edgectl --device local job wait %s" % job_id)
    code, out, _ = run(cli_env, "job", "show", job_id)
    assert "state            running" in out
    code, out, _ = run(cli_env, "job", "cancel", job_id)
    assert code == ExitCode.OK and "cancel requested for benchmark (%s)" % job_id in out
    code, _, err2 = run(cli_env, "job", "wait", job_id)
    assert code == ExitCode.JOB_CANCELLED and "was cancelled" in err2


def test_ctrl_c_on_a_terminal_asks_and_cancels(cli_env: ConsoleEnv, model: Path) -> None:
    leader, follower = pty.openpty()
    try:
        proc = _edgectl(cli_env, ["bench", str(model), "--shape", "image:1x3x64x64", "--seconds", "60"],
                        stdin=follower, stdout=subprocess.DEVNULL, stderr=follower)
        os.close(follower)
        screen = _read_until(leader, b"measuring")
        assert b"\r[" in screen  # a terminal gets the redrawn bar, not lines
        proc.send_signal(signal.SIGINT)
        question = _read_until(leader, b"[c]ancel / [D]etach: ")
        assert b"Cancel benchmark (" in question and b"on local, or detach" in question
        os.write(leader, b"c\n")
        _read_until(leader, b"cancel requested")
        assert proc.wait(timeout=60) == ExitCode.JOB_CANCELLED
    finally:
        os.close(leader)


def test_tracker_reattaches_and_catches_up_the_log_from_its_offset(cli_env: ConsoleEnv, model: Path) -> None:
    core, watcher_core = ConsoleCore(cli_env), ConsoleCore(cli_env)
    try:
        session = core.session("local")
        session.connect()
        tracker = JobTracker(session)
        tracker.start()
        watcher = JobTracker(watcher_core.session("local"))
        watcher.session.connect()
        watcher.start()
        info = tracker.submit("benchmark", BenchmarkSpec(str(model), shapes={"image": [1, 3, 64, 64]},
                                                         warmup_s=0.2, seconds=1.0, concurrency=[1, 2, 3]))
        wait_until(lambda: len(tracker.log(info.id).lines) >= 1, what="the first log line")
        held = tracker.log(info.id).end
        session.close()  # the link drops; the job goes on
        wait_until(lambda: watcher.log(info.id).end > held + 1, what="lines written while detached")
        session.connect()  # the tracker re-attaches on its own
        wait_until(lambda: tracker.attached, what="re-attach")
        final = tracker.wait(info.id, timeout=60)
        assert final.state == "succeeded"
        wait_until(lambda: tracker.log(info.id).done, what="the end of the log")
        full = watcher.fetch_logs(info.id, offset=0)
        assert tracker.log(info.id).lines == full.lines  # every line once, in order
        assert any("streams" in line for line in full.lines)
        assert tracker.problems == []
        tracker.close()
        watcher.close()
    finally:
        core.close()
        watcher_core.close()
