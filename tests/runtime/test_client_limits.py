"""Hostile clients on the real daemon: one that never reads, a thousand that never speak, one
that stops half way through a frame. Each is bounded, and a well-behaved client still gets in."""

from __future__ import annotations

import resource
import socket
import threading
from pathlib import Path

import psutil

from device_runtime import protocol as p
from device_runtime.server.limits import PER_UID, ClientLimits, ClientState
from tests.support.wire import RawClient


def _log(daemon) -> str:
    return (Path(daemon.root) / "logs" / "daemon.log").read_text(errors="replace")


def test_a_client_that_never_reads_is_paused_then_dropped(daemon) -> None:
    proc = psutil.Process(daemon.pid)
    flood = RawClient(daemon.socket_path, timeout=120)
    flood.handshake()
    before = proc.memory_info().rss
    request = p.encode(p.Request(1, "telemetry.describe", {}))
    failure: list[BaseException] = []

    def pump() -> None:  # blocks while the daemon has stopped reading, ends when it hangs up
        try:
            for _ in range(200):
                flood.sock.sendall(request * 1000)
        except OSError as exc:
            failure.append(exc)

    thread = threading.Thread(target=pump)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive() and failure, "the daemon kept reading a client that never reads"
    assert isinstance(failure[0], (BrokenPipeError, ConnectionResetError))
    assert "closed the connection of" in _log(daemon) and "KiB of replies for 20 s" in _log(daemon)
    growth = proc.memory_info().rss - before
    assert growth < 24 << 20, "daemon grew by %d MiB" % (growth >> 20)
    good = RawClient(daemon.socket_path)
    good.handshake()
    assert isinstance(good.call("ping"), p.Response)
    good.close()
    flood.close()


def _raise_own_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))


def test_a_thousand_silent_connections_lock_no_one_out(daemon) -> None:
    _raise_own_fd_limit(1500)
    proc = psutil.Process(daemon.pid)
    soft, _ = proc.rlimit(psutil.RLIMIT_NOFILE)
    assert soft >= min(65536, resource.getrlimit(resource.RLIMIT_NOFILE)[1])  # raised by the daemon itself
    idle: list[socket.socket] = []
    try:
        for _ in range(1000):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(str(daemon.socket_path))
            idle.append(s)
        good = RawClient(daemon.socket_path)
        good.handshake()
        assert isinstance(good.call("ping"), p.Response)
        assert proc.num_fds() < PER_UID + 200, "the daemon holds %d fds" % proc.num_fds()
        good.close()
    finally:
        for s in idle:
            s.close()
    assert "idle, closed to make room for a new connection of the same user" in _log(daemon)


def test_a_connection_that_never_says_hello_is_closed(daemon) -> None:
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.settimeout(60)
    silent.connect(str(daemon.socket_path))
    silent.sendall(b'{"type":"hel')  # half a frame, then nothing
    assert silent.recv(1) == b""  # the daemon hung up (after its hello timeout), not the test
    silent.close()
    assert "no hello within" in _log(daemon)


def test_half_a_frame_then_silence_is_closed_but_a_slow_sender_is_not(daemon) -> None:
    stalled = RawClient(daemon.socket_path, timeout=120)
    stalled.handshake()
    stalled.send_raw(b'{"type":"request","id":5,"method":"pi')  # and never the rest
    slow = RawClient(daemon.socket_path, timeout=120)
    slow.handshake()
    slow.send_raw(b'{"type":"request","id":6,"method":"ping","params":{}')
    closed = threading.Event()

    def trickle() -> None:  # a slow link: one byte a second, for longer than the timeout
        while not closed.wait(1.0):  # the pace of the link, not a wait for readiness
            slow.send_raw(b" ")

    thread = threading.Thread(target=trickle)
    thread.start()
    try:
        assert stalled.sock.recv(1) == b""  # closed by the daemon (after PARTIAL_FRAME_TIMEOUT_S)
    finally:
        closed.set()
        thread.join()
    slow.send_raw(b"}\n")
    assert isinstance(slow.recv(), p.Response)  # the slow sender's frame is still answered
    assert "half a frame and no more bytes for 30 s" in _log(daemon)
    stalled.close()
    slow.close()


def test_a_user_at_the_limit_with_every_connection_busy_is_refused_with_the_reason(daemon) -> None:
    busy = []
    try:
        for _ in range(PER_UID):
            c = RawClient(daemon.socket_path)
            c.handshake()
            assert isinstance(c.call("events.subscribe", {"topics": [p.TOPIC_JOB]}), p.Response)
            busy.append(c)
        extra = RawClient(daemon.socket_path)
        reply = extra.recv()
        assert isinstance(reply, p.ErrorReply) and reply.code == p.ErrorCode.TOO_MANY_CONNECTIONS
        assert "already has %d connections" % PER_UID in reply.message
        extra.close()
        busy.pop().close()
        again = RawClient(daemon.socket_path)  # room again once one closes
        again.handshake()
        again.close()
    finally:
        for c in busy:
            c.close()


def test_limit_rules() -> None:
    limits = ClientLimits(per_uid=2, total=3, hello_timeout_s=10, partial_frame_timeout_s=30, read_stall_s=20)
    a, b = ClientState(1, 1000, 0.0), ClientState(2, 1000, 1.0)
    a.ready = b.ready = True
    b.subscribed = True
    assert limits.admit(1000, [a, b], 2.0) == (False, [], limits.admit(1000, [a, b], 2.0)[2])  # a idle < 5 s
    admitted, evict, _ = limits.admit(1000, [a, b], 10.0)
    assert admitted and evict == [1]  # idle and subscribed to nothing
    c = ClientState(3, 2000, 0.5)
    assert limits.admit(3000, [a, b, c], 1.0)[1] == [3]  # over the total: c never said hello, first to go
    c.ready = True
    assert limits.admit(3000, [a, b, c], 1.0)[0] is False  # nothing idle long enough
    assert limits.admit(3000, [a, b, c], 10.0)[1] == [1]  # the longest idle
    # Half a frame times out only when no more bytes come: a slow link is not a stall.
    a.received(100.0, completed=False, pending=10)
    a.received(125.0, completed=False, pending=20)
    assert limits.expired([a], 150.0) == {}
    assert "no more bytes" in limits.expired([a], 156.0)[1]
    a.received(156.0, completed=True, pending=0)
    assert limits.expired([a], 500.0) == {}
    assert "no hello" in limits.expired([ClientState(4, 2000, 0.0)], 11.0)[4]
    # A client whose reading is paused is dropped only when its backlog stops shrinking.
    b.output(0.0, paused=True, backlog=600 << 10)
    b.output(15.0, paused=True, backlog=500 << 10)
    assert limits.expired([b], 30.0) == {}
    b.output(30.0, paused=True, backlog=500 << 10)
    assert limits.expired([b], 36.0) == {}  # a subscriber behind a stalled link keeps its connection
    b.subscribed = False
    assert "read none of its 500 KiB of replies for 20 s" in limits.expired([b], 36.0)[2]
    b.output(37.0, paused=False, backlog=0)
    assert limits.expired([b], 100.0) == {}
