"""Links that drop at the worst moment, against a real sshd and a real daemon.

A request whose reply is lost on the way (the reply is swallowed, then the session's sshd process
is killed) is sent again with the same id once the console has reconnected, and acts once. A link
that drops while a job runs is re-attached on its own, with the job's result intact and every log
line once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from console.core.devices.backoff import Backoff
from console.core.devices.session import DeviceSession, State, make_transport
from console.core.jobs.tracker import JobTracker, typed_result
from console.transport.base import Stream, Transport
from device_runtime import protocol as p
from device_runtime.demo_model import write_demo_model
from tests.support.ssh import SshServer, SshWorld
from tests.support.ssh_flows import Watcher
from tests.support.wire import RawClient


class SwallowingStream(Stream):
    """The console's stream with a fault: once a request for ``method`` is written, everything the
    device sends back is read and thrown away (kept in ``swallowed``), as a dying link loses it."""

    def __init__(self, inner: Stream, method: str) -> None:
        self.inner = inner
        self.method = method
        self.request_id: int | None = None
        self.swallowed: list[p.AnyMessage] = []
        self.reply_lost = threading.Event()
        self._decoder = p.FrameDecoder()

    def write(self, data: bytes) -> None:
        for frame in p.FrameDecoder().feed(data):
            message = p.decode(frame) if isinstance(frame, bytes) else None
            if isinstance(message, p.Request) and message.method == self.method and self.request_id is None:
                self.request_id = message.id
        self.inner.write(data)

    def read(self, size: int) -> bytes:
        while True:
            data = self.inner.read(size)
            if not data or self.request_id is None:
                return data
            for frame in self._decoder.feed(data):
                if isinstance(frame, bytes):
                    message = p.decode(frame)
                    self.swallowed.append(message)
                    if isinstance(message, (p.Response, p.ErrorReply)) and message.id == self.request_id:
                        self.reply_lost.set()

    def close(self) -> None:
        self.inner.close()

    def diagnostics(self) -> str:
        return self.inner.diagnostics()


class FirstStreamLosesReplies(Transport):
    """The SSH transport, whose first stream loses the reply to ``method``; later ones are sound."""

    name = "ssh"

    def __init__(self, inner: Transport, method: str) -> None:
        self.inner = inner
        self.method = method
        self.faulty: SwallowingStream | None = None

    def open(self) -> Stream:
        stream = self.inner.open()
        if self.faulty is None:
            self.faulty = SwallowingStream(stream, self.method)
            return self.faulty
        return stream

    def describe(self) -> str:
        return self.inner.describe()


def _device_jobs(server: SshServer, label: str) -> list[p.JobInfo]:
    """The jobs the device holds, asked on its own socket (not through the link under test)."""
    client = RawClient(server.remote_socket)
    try:
        client.handshake()
        reply = client.call("jobs.list", {"limit": 200})
        assert isinstance(reply, p.Response)
        return [job for job in p.JobList.from_wire(reply.result).jobs if job.label == label]
    finally:
        client.close()


@pytest.fixture
def model(short_tmp: Path) -> Path:
    return Path(write_demo_model(str(short_tmp / "models" / "demo.onnx")))


def test_a_submit_whose_reply_was_lost_is_retried_with_its_id_and_acts_once(ssh_world: SshWorld,
                                                                            model: Path) -> None:
    server = ssh_world.servers[0]
    ssh_world.trust(server)
    entry = ssh_world.entry()
    ssh = make_transport(entry, ssh_world.env)
    lossy = FirstStreamLosesReplies(ssh, "jobs.submit")
    session = DeviceSession(entry, lossy, ssh_world.env.clock)
    session.enable_reconnect(Backoff(initial_s=0.2, max_s=1.0))
    watcher = Watcher(session)
    killed: list[int] = []

    def cut_the_link_once_the_reply_is_lost() -> None:
        assert lossy.faulty is not None
        if lossy.faulty.reply_lost.wait(60):
            killed.append(server.kill_sessions())

    try:
        session.connect()
        cutter = threading.Thread(target=cut_the_link_once_the_reply_is_lost)
        cutter.start()
        spec = p.JobSubmit("validate", p.ValidateSpec(str(model)).to_wire(), "lost reply")
        info = session.request("jobs.submit", spec)
        cutter.join(timeout=10)
        assert killed and killed[0] >= 1, "the link was not cut"
        assert isinstance(info, p.JobInfo)
        # The device acted and answered once; that answer was lost, and the retry got the same one.
        faulty = lossy.faulty
        assert faulty is not None and faulty.request_id is not None
        original = next(m for m in faulty.swallowed if isinstance(m, p.Response) and m.id == faulty.request_id)
        assert info.to_wire() == original.result
        assert [job.id for job in _device_jobs(server, "lost reply")] == [info.id]
        reconnected = [s for _, s, _ in watcher.states]
        assert State.RECONNECTING in reconnected and reconnected[-1] is State.CONNECTED
        # A request after the reconnect is a new one: ids kept counting past the retried one.
        again = session.request("jobs.submit", spec)
        assert isinstance(again, p.JobInfo) and again.id != info.id
        assert len(_device_jobs(server, "lost reply")) == 2
    finally:
        session.close()
        ssh.close()  # type: ignore[attr-defined]


@pytest.fixture
def robot(ssh_world: SshWorld) -> Iterator[tuple[DeviceSession, JobTracker]]:
    ssh_world.trust(ssh_world.servers[0])
    entry = ssh_world.entry()
    session = DeviceSession(entry, make_transport(entry, ssh_world.env), ssh_world.env.clock)
    # The first retry waits long enough for the job to write log lines while the link is down.
    session.enable_reconnect(Backoff(initial_s=1.5, max_s=2.0, jitter=0.0))
    tracker = JobTracker(session)
    yield session, tracker
    tracker.close()
    session.close()


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():  # ok: the tracker's state is filled by its own threads; bounded by a deadline
        if time.monotonic() > deadline:
            raise AssertionError("no %s within %.0f s" % (what, timeout))
        pause.wait(0.05)


def test_link_drop_mid_job_reattaches_with_the_result_and_every_log_line_once(
        robot: tuple[DeviceSession, JobTracker], ssh_world: SshWorld, model: Path) -> None:
    session, tracker = robot
    server = ssh_world.servers[0]
    watcher = Watcher(session)
    session.connect()
    tracker.start()
    _wait(lambda: tracker.attached, 20, "attach")
    spec = p.BenchmarkSpec(str(model), shapes={"image": [1, 3, 64, 64]}, warmup_s=0.2, seconds=0.8,
                           concurrency=[1, 2, 3, 4, 5])
    info = tracker.submit("benchmark", spec, "through a drop")
    _wait(lambda: len(tracker.log(info.id).lines) >= 2, 60, "the first log lines")
    held = tracker.log(info.id).end
    assert server.kill_sessions() >= 1
    cut = time.monotonic()
    watcher.wait("reconnect", lambda: any(s is State.CONNECTED and at > cut for at, s, _ in watcher.states), 30)
    back = next(at for at, s, _ in watcher.states if s is State.CONNECTED and at > cut)
    device_side = _device_log(server, info.id)
    _wait(lambda: tracker.attached, 20, "re-attach")
    final = tracker.wait(info.id, timeout=120)
    assert final.state == "succeeded", final.error
    _wait(lambda: tracker.log(info.id).done, 30, "the end of the log")
    # Lines were written while the console was away, and the console has them all, once, in order.
    full = _device_log(server, info.id)
    assert len(device_side) > held, "no log line was written while the link was down (%.1f s)" % (back - cut)
    assert tracker.log(info.id).lines == full and tracker.log(info.id).base == 0
    assert sum("streams" in line for line in full) == 5
    result = typed_result(tracker.job(info.id) or final)
    assert isinstance(result, p.BenchmarkResult) and [pt.streams for pt in result.sweep] == [1, 2, 3, 4, 5]
    assert result.latency.count > 0 and tracker.problems == []
    assert tracker.job(info.id) == final


def _device_log(server: SshServer, job_id: str) -> list[str]:
    client = RawClient(server.remote_socket)
    try:
        client.handshake()
        reply = client.call("jobs.logs", {"id": job_id, "offset": 0, "limit": 10000})
        assert isinstance(reply, p.Response)
        return list(p.JobLog.from_wire(reply.result).lines)
    finally:
        client.close()
