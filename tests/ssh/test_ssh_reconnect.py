"""Bad links against a real sshd: a killed session and a silent link are reported, then recovered."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.core.devices.backoff import Backoff
from console.core.devices.session import DeviceSession, State, make_transport
from device_runtime.protocol import TOPIC_JOB
from tests.support.relay import FreezableRelay
from tests.support.ssh import SshWorld
from tests.support.ssh_flows import Watcher, _plant_other_key


@pytest.fixture
def robot(ssh_world: SshWorld) -> Iterator[tuple[DeviceSession, Watcher]]:
    ssh_world.trust(ssh_world.servers[0])
    entry = ssh_world.entry()
    session = DeviceSession(entry, make_transport(entry, ssh_world.env), ssh_world.env.clock)
    session.enable_reconnect(Backoff(initial_s=0.2, max_s=1.0))
    watcher = Watcher(session)
    yield session, watcher
    session.close()


def test_killed_session_is_reported_and_reconnected_with_telemetry(robot: tuple[DeviceSession, Watcher],
                                                                   ssh_world: SshWorld) -> None:
    session, watcher = robot
    session.connect()
    session.start_telemetry(10.0)
    watcher.wait("samples", lambda: len(watcher.samples) >= 3, 10)
    assert ssh_world.servers[0].kill_sessions() >= 1
    cut = time.monotonic()
    watcher.wait("reconnect", lambda: any(s is State.CONNECTED and at > cut for at, s, _ in watcher.states), 15)
    lost_at, message = watcher.first(State.RECONNECTING, cut)
    assert "connection lost" in message and "attempt 1 in" in message
    watcher.wait("samples after the reconnect",
                 lambda: sum(1 for at, _ in watcher.samples if at > lost_at) >= 3, 10)
    streaming_again = next(at for at, _ in watcher.samples if at > lost_at)
    assert streaming_again - cut < 5.0  # the figure the issue sets for a link that is back
    device_times = [t for _, t in watcher.samples]
    assert device_times == sorted(device_times)  # back-fill never repeats or reorders a sample
    assert session.state is State.CONNECTED and session.next_attempt_at is None


def test_changed_host_key_stops_the_reconnect_loop(robot: tuple[DeviceSession, Watcher], ssh_world: SshWorld,
                                                   short_tmp: Path) -> None:
    session, watcher = robot
    session.connect()
    _plant_other_key(ssh_world.env.known_hosts_path, ssh_world.servers[0], short_tmp)
    ssh_world.servers[0].kill_sessions()
    watcher.wait("giving up", lambda: session.state is State.FAILED, 15)
    assert "host key" in session.message and "changed" in session.message
    assert [s for _, s, _ in watcher.states].count(State.RECONNECTING) == 1  # no retry of a refused key


def test_a_silent_link_is_noticed_by_keepalives_and_recovered(ssh_world: SshWorld) -> None:
    server = ssh_world.servers[0]
    relay = FreezableRelay(server.port)
    kind, blob = server.host_key.with_suffix(".pub").read_text().split()[:2]
    ssh_world.env.known_hosts_path.parent.mkdir(parents=True, exist_ok=True)
    ssh_world.env.known_hosts_path.write_text("[127.0.0.1]:%d %s %s\n" % (relay.port, kind, blob))
    ssh_world.write_ssh_config(
        "Host flaky\n  HostName 127.0.0.1\n  Port %d\n  User %s\n  IdentityFile %s\n"
        "  ServerAliveInterval 1\n  ServerAliveCountMax 2\n  ConnectTimeout 3\n"
        % (relay.port, ssh_world.env.local_user, ssh_world.client_key))
    entry = ssh_world.entry("flaky", host="flaky", port=None, user=None, key=None)
    session = DeviceSession(entry, make_transport(entry, ssh_world.env), ssh_world.env.clock)
    session.enable_reconnect(Backoff(initial_s=0.2, max_s=1.0))
    watcher = Watcher(session)
    try:
        session.connect()
        session.start_telemetry(10.0)
        watcher.wait("samples", lambda: len(watcher.samples) >= 3, 10)
        relay.freeze()
        frozen = time.monotonic()
        watcher.wait("loss noticed", lambda: any(s is State.RECONNECTING for _, s, _ in watcher.states), 12)
        noticed, message = watcher.first(State.RECONNECTING, frozen)
        assert noticed - frozen < 10.0, "a dead link must be noticed within 10 s"
        assert "did not answer keepalives" in message
        relay.drop_frozen_and_thaw()
        back = time.monotonic()
        watcher.wait("samples after the link came back",
                     lambda: any(at > back for at, _ in watcher.samples), 15)
        streaming_again = next(at for at, _ in watcher.samples if at > back)
        assert streaming_again - back < 5.0 + 3.0  # 5 s figure, plus one handshake stuck on the dead link
    finally:
        session.close()
        relay.close()


def test_close_during_backoff_does_not_hang(ssh_world: SshWorld) -> None:
    ssh_world.trust(ssh_world.servers[0])
    entry = ssh_world.entry()
    session = DeviceSession(entry, make_transport(entry, ssh_world.env), ssh_world.env.clock)
    session.enable_reconnect(Backoff(initial_s=30.0, max_s=30.0))
    watcher = Watcher(session)
    session.connect()
    ssh_world.servers[0].kill_sessions()
    watcher.wait("reconnecting", lambda: session.state is State.RECONNECTING, 10)
    assert session.next_attempt_at is not None and session.next_attempt_at > time.time() + 20
    started = time.monotonic()
    session.close()
    assert time.monotonic() - started < 5.0 and session.state is State.DISCONNECTED


def test_events_are_resubscribed(robot: tuple[DeviceSession, Watcher], ssh_world: SshWorld) -> None:
    session, _ = robot
    session.connect()
    session.subscribe_events([TOPIC_JOB])
    seen: queue.Queue[str] = queue.Queue()
    original = session.subscribe_events

    def spy(topics: list[str]) -> None:
        seen.put(",".join(topics))
        original(topics)

    session.subscribe_events = spy  # type: ignore[method-assign]
    ssh_world.servers[0].kill_sessions()
    assert seen.get(timeout=15) == TOPIC_JOB
