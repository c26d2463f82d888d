"""The local transport end to end: a real bridge subprocess that starts a real daemon."""

from __future__ import annotations

import os
import queue
import signal

import psutil
import pytest

from console.core.app import ConsoleCore
from console.core.devices.client import ConnectionLost, DeviceError
from console.core.devices.session import State
from console.core.env import ConsoleEnv
from device_runtime import __version__ as runtime_version


def test_local_device_connects_starting_a_daemon_and_streams(console_env: ConsoleEnv) -> None:
    assert not console_env.local_socket.exists()
    core = ConsoleCore(console_env)
    session = core.session("local")
    states: list[State] = []
    session.state_listeners.append(lambda state, _msg: states.append(state))
    caps = session.connect()
    assert states == [State.CONNECTING, State.CONNECTED]
    assert session.runtime_version == runtime_version
    assert caps.cpu_count == os.cpu_count()
    assert console_env.local_socket.exists()
    samples: queue.Queue[tuple[float, dict[str, float]]] = queue.Queue()
    session.sample_listeners.append(lambda t, v: samples.put((t, v)))
    table = session.start_telemetry(10)
    assert table.rate_hz == 10
    got = [samples.get(timeout=5) for _ in range(5)]
    assert all("cpu.load" in v and 0 <= v["cpu.load"] <= 100 for _, v in got)
    assert [t for t, _ in got] == sorted(t for t, _ in got)
    assert session.store is not None and session.store.received >= 5
    times, values = session.store.series("mem.used")
    assert len(times) >= 5 and (values > 0).all()
    assert session.ping() < 1.0
    core.close()
    assert session.state is State.DISCONNECTED


def test_demo_model_is_available_on_the_local_device(console_env: ConsoleEnv) -> None:
    import onnx

    core = ConsoleCore(console_env)
    session = core.session("local")
    session.connect()
    demo = console_env.local_root / "demo" / "edge-demo-classifier.onnx"
    # The daemon builds it in a child process at start; wait for that child to finish.
    pid = int((console_env.local_socket.parent / "edge-runtime.sock.lock").read_text())
    for child in psutil.Process(pid).children():
        child.wait(timeout=60)
    onnx.checker.check_model(str(demo))
    core.close()
    session = ConsoleCore(console_env).session("local")
    assert session.connect().demo_model == str(demo)
    session.close()


def test_second_console_shares_the_running_daemon(console_env: ConsoleEnv) -> None:
    first = ConsoleCore(console_env).session("local")
    first.connect()
    pid = (console_env.local_socket.parent / "edge-runtime.sock.lock").read_text().strip()
    second = ConsoleCore(console_env).session("local")
    second.connect()
    assert (console_env.local_socket.parent / "edge-runtime.sock.lock").read_text().strip() == pid
    first.close()
    second.close()


def test_daemon_death_is_reported_not_hung(console_env: ConsoleEnv) -> None:
    session = ConsoleCore(console_env).session("local")
    session.connect()
    reasons: queue.Queue[str] = queue.Queue()
    session.state_listeners.append(lambda state, msg: reasons.put(msg) if state is State.FAILED else None)
    pid = int((console_env.local_socket.parent / "edge-runtime.sock.lock").read_text())
    os.kill(pid, signal.SIGKILL)
    assert "closed the connection" in reasons.get(timeout=10)
    with pytest.raises((ConnectionLost, DeviceError)):
        session.ping()
    session.close()


def test_unknown_transport_kind_is_a_clear_error(console_env: ConsoleEnv) -> None:
    from console.core.devices.session import make_transport
    from console.core.settings import DeviceEntry
    from console.transport.base import TransportError

    with pytest.raises(TransportError, match="carrier-pigeon"):
        make_transport(DeviceEntry(name="r", kind="carrier-pigeon"), console_env)


def test_a_late_console_gets_its_charts_back_filled(console_env: ConsoleEnv) -> None:
    first = ConsoleCore(console_env).session("local")
    first.connect()
    arrived: queue.Queue[float] = queue.Queue()
    first.sample_listeners.append(lambda t, _v: arrived.put(t))
    first.start_telemetry(20)
    seen = [arrived.get(timeout=5) for _ in range(10)]
    late = ConsoleCore(console_env).session("local")
    late.connect()
    late.start_telemetry(1, backfill_s=60)
    assert late.store is not None
    times, _ = late.store.series("cpu.load")
    assert set(seen) <= set(times.tolist())
    first.close()
    late.close()


def test_the_bridges_last_words_reach_the_reason_the_stream_ended() -> None:
    """The bridge writes why it ends to stderr as it exits; the end of its stdout must not be
    reported before that line is read (the Fleet page once said only "the device closed the
    connection" for a device whose socket is missing)."""
    import subprocess
    import sys

    from console.transport.local import _ProcessStream

    script = ("import os, sys, time\n"
              "os.close(1)\n"  # the stream ends first...
              "time.sleep(0.5)\n"  # ok: the subject under test, a process whose reason comes after its stdout ends
              "sys.stderr.write('edge-runtime bridge: no daemon at /tmp/ghost.sock: No such file\\n')\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    stream = _ProcessStream(proc)
    try:
        assert stream.read(4096) == b""
        assert stream.diagnostics().endswith("ghost.sock: No such file")  # ...its reason is still heard
    finally:
        stream.close()
