"""The real daemon process: many clients, garbage, drops, versions, a second daemon, huge frames."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

from device_runtime import __version__
from device_runtime import protocol as p
from tests.support.wire import RawClient


def _is_sample(m: p.AnyMessage) -> bool:
    return isinstance(m, p.Event) and m.topic == p.TOPIC_SAMPLE


def test_handshake_reports_version_and_capabilities(daemon) -> None:
    client = RawClient(daemon.socket_path)
    welcome = client.handshake()
    assert welcome.runtime_version == __version__
    assert welcome.protocol == p.PROTOCOL_VERSION
    caps = welcome.capabilities
    assert caps.cpu_count == psutil.cpu_count() and caps.memory_total_mb > 100
    assert "onnxruntime" in caps.backends and caps.onnxruntime
    client.close()


def test_socket_is_group_only(daemon) -> None:
    assert (daemon.socket_path.stat().st_mode & 0o777) == 0o660


def test_two_clients_stream_while_a_third_sends_garbage(daemon) -> None:
    good = [RawClient(daemon.socket_path) for _ in range(2)]
    for c in good:
        c.handshake()
        reply = c.call("telemetry.subscribe", {"rate_hz": 10})
        assert isinstance(reply, p.Response)
        assert {m["name"] for m in reply.result["metrics"]} >= {"cpu.load", "mem.used"}
    bad = RawClient(daemon.socket_path)
    garbage = [b"\x00\x01\x02\n", b"{not json}\n", b'{"type":"warp"}\n', b"[]\n",
               b'{"type":"request","id":9,"method":"telemetry.subscribe","params":{"rate_hz":"x"}}\n',
               b'{"type":"response","id":1}\n']
    for chunk in garbage * 20:
        bad.send_raw(chunk)
    errors = [bad.recv() for _ in range(len(garbage) * 20)]
    assert all(isinstance(e, p.ErrorReply) for e in errors)
    assert {e.code for e in errors} >= {p.ErrorCode.BAD_FRAME, p.ErrorCode.UNKNOWN_TYPE, p.ErrorCode.NOT_READY}
    for c in good:
        seqs = [c.recv_until(_is_sample).data["seq"] for _ in range(5)]  # type: ignore[union-attr]
        assert seqs == sorted(seqs) and len(set(seqs)) == 5
    # The garbage sender is still served once it behaves.
    bad.handshake()
    assert isinstance(bad.call("ping"), p.Response)
    for c in [*good, bad]:
        c.close()


def test_unknown_method_and_bad_params_get_error_replies_with_ids(daemon) -> None:
    c = RawClient(daemon.socket_path)
    c.handshake()
    reply = c.call("rm_rf")
    assert isinstance(reply, p.ErrorReply) and reply.code == p.ErrorCode.UNKNOWN_METHOD
    reply = c.call("telemetry.subscribe", {"rate_hz": [1]})
    assert isinstance(reply, p.ErrorReply) and reply.code == p.ErrorCode.BAD_FIELD
    reply = c.call("telemetry.subscribe", {"rate_hz": 500})
    assert isinstance(reply, p.Response) and reply.result["rate_hz"] == p.MAX_RATE_HZ
    c.close()


def test_a_client_dropping_mid_message_does_not_disturb_others(daemon) -> None:
    watcher = RawClient(daemon.socket_path)
    watcher.handshake()
    watcher.call("telemetry.subscribe", {"rate_hz": 20})
    for _ in range(10):
        dropper = socket.socket(socket.AF_UNIX)
        dropper.connect(str(daemon.socket_path))
        dropper.sendall(b'{"type":"hello","id":1,"proto')
        dropper.close()
    first = watcher.recv_until(_is_sample).data["seq"]  # type: ignore[union-attr]
    later = watcher.recv_until(_is_sample).data["seq"]  # type: ignore[union-attr]
    assert later > first
    assert psutil.Process(daemon.pid).is_running()
    watcher.close()


def test_incompatible_console_gets_a_clear_message(daemon) -> None:
    c = RawClient(daemon.socket_path)
    c.send(p.Hello(1, protocol=p.PROTOCOL_VERSION + 5, client="future", min_protocol=p.PROTOCOL_VERSION + 5))
    reply = c.recv()
    assert isinstance(reply, p.ErrorReply) and reply.code == p.ErrorCode.INCOMPATIBLE
    assert "update the runtime on the device" in reply.message
    with pytest.raises(ConnectionError):
        c.recv()
    c.close()


def test_a_second_daemon_on_the_same_socket_refuses_and_says_why(daemon) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "device_runtime", "serve", "--socket", str(daemon.socket_path),
         "--root", str(daemon.root)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 3
    assert "already serving" in proc.stderr and str(daemon.pid) in proc.stderr
    c = RawClient(daemon.socket_path)  # the first one is untouched
    c.handshake()
    c.close()


def test_a_1_gib_frame_is_refused_without_memory_growth(daemon) -> None:
    proc = psutil.Process(daemon.pid)
    c = RawClient(daemon.socket_path, timeout=120)
    c.handshake()
    before = proc.memory_info().rss
    block = b"A" * (1 << 20)
    sent = threading.Event()

    def pump() -> None:
        for _ in range(1024):
            c.sock.sendall(block)
        c.sock.sendall(b"\n")
        sent.set()

    thread = threading.Thread(target=pump)
    thread.start()
    reply = c.recv_until(lambda m: isinstance(m, p.ErrorReply))
    thread.join()
    assert sent.is_set()
    assert isinstance(reply, p.ErrorReply) and reply.code == p.ErrorCode.FRAME_TOO_LARGE
    assert "1073741824 bytes" in reply.message
    growth = proc.memory_info().rss - before
    assert growth < 8 * (1 << 20), "daemon grew by %d bytes" % growth
    assert isinstance(c.call("ping"), p.Response)
    c.close()


def test_history_backfills_a_late_subscriber(daemon) -> None:
    early = RawClient(daemon.socket_path)
    early.handshake()
    early.call("telemetry.subscribe", {"rate_hz": 20})
    seen = [early.recv_until(_is_sample).data["t"] for _ in range(6)]  # type: ignore[union-attr]
    late = RawClient(daemon.socket_path)
    late.handshake()
    late.send(p.Request(7, "telemetry.subscribe", {"rate_hz": 1, "backfill_s": 60}))
    backfilled = []
    while True:
        m = late.recv()
        if isinstance(m, p.Response):
            break
        assert _is_sample(m)
        backfilled.append(m.data["t"])  # type: ignore[union-attr]
    assert set(seen) <= set(backfilled)
    early.close()
    late.close()


def test_stop_ends_the_daemon_and_removes_its_socket(short_tmp: Path) -> None:
    from device_runtime.server.bridge import start_daemon

    sock = short_tmp / "x.sock"
    start_daemon(str(sock), str(short_tmp / "root"), [])
    assert sock.exists()
    out = subprocess.run([sys.executable, "-m", "device_runtime", "stop", "--socket", str(sock)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0 and "stopped" in out.stdout
    assert not sock.exists()


def _stop(sock: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "device_runtime", "stop", "--socket", str(sock)],
                          capture_output=True, text=True, timeout=60, check=False)


def test_a_second_stop_says_nothing_is_serving_whatever_pid_the_lock_file_still_names(short_tmp: Path) -> None:
    """A stopped daemon leaves its pid in the lock file; only a held lock makes that pid a daemon's.
    Seen under load: the pid was gone (reaped) and stop failed with 'daemon pid N is gone'."""
    from device_runtime.paths import lock_path
    from device_runtime.server.bridge import start_daemon

    sock = short_tmp / "x.sock"
    start_daemon(str(sock), str(short_tmp / "root"), [])
    assert _stop(sock).returncode == 0
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # exited and reaped: its pid names no process now
    Path(lock_path(str(sock))).write_text("%d\n" % dead.pid)
    again = _stop(sock)
    assert again.returncode == 1 and "no daemon is serving %s" % sock in again.stderr, again.stderr

    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    os.waitid(os.P_PID, zombie.pid, os.WEXITED | os.WNOWAIT)  # it has exited; not reaped: a zombie, signals reach it
    Path(lock_path(str(sock))).write_text("%d\n" % zombie.pid)
    try:
        zombie_stop = _stop(sock)
        assert zombie_stop.returncode == 1 and "no daemon is serving" in zombie_stop.stderr
    finally:
        zombie.wait()


def test_stop_local_after_the_daemon_ended_is_not_an_error(short_tmp: Path) -> None:
    from console.core.devices.local_runtime import stop_local_runtime
    from console.core.env import ConsoleEnv
    from device_runtime.paths import lock_path

    env = ConsoleEnv(config_dir=short_tmp / "cfg", data_dir=short_tmp / "data", runtime_dir=short_tmp / "run",
                     environ={"HOME": str(short_tmp)})
    env.local_socket.parent.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    Path(lock_path(str(env.local_socket))).write_text("%d\n" % dead.pid)
    assert "no daemon is serving" in stop_local_runtime(env)
