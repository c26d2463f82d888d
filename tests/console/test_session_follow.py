"""DeviceSession.follow against a real local daemon: pushed events reach the follower, closing a
subscription stops exactly its own listener, and the session asks for the topics again after it
reconnects. The events are health reports: ``health.run`` pushes one on ``TOPIC_HEALTH``."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import pytest

from console.core.app import ConsoleCore
from console.core.devices.backoff import Backoff
from console.core.devices.client import DeviceError
from console.core.devices.session import DeviceSession, State, make_transport
from console.core.env import ConsoleEnv
from console.core.settings import DeviceEntry
from device_runtime.protocol import HEALTH_RUN, TOPIC_ALERT, TOPIC_HEALTH, Empty, Event, HealthReport
from device_runtime.server.bridge import start_daemon
from tests.support.daemons import RunningDaemon, stop_daemon

WAIT_S = 30.0


@pytest.fixture
def session(console_env: ConsoleEnv) -> Iterator[DeviceSession]:
    core = ConsoleCore(console_env)
    session = core.session("local")
    session.connect()
    yield session
    core.close()


def _run_checks(session: DeviceSession) -> HealthReport:
    return session.call(HEALTH_RUN, Empty(), timeout=WAIT_S)


def _next_report(heard: queue.Queue[Event], after: float) -> HealthReport:
    """The first pushed report of a run at or after ``after`` (earlier pushes may still be queued)."""
    while True:
        report = HealthReport.from_wire(heard.get(timeout=WAIT_S).data)
        if report.t >= after:
            return report


def test_events_reach_the_follower_until_it_closes(session: DeviceSession) -> None:
    heard: queue.Queue[Event] = queue.Queue()
    follow = session.follow([TOPIC_HEALTH], heard.put, subscribe=True)
    assert follow.open and session.followers(TOPIC_HEALTH) == 1
    report = _run_checks(session)
    pushed = _next_report(heard, report.t)
    assert pushed.t == report.t and pushed.overall == report.overall

    follow.close()
    assert not follow.open and session.followers(TOPIC_HEALTH) == 0
    follow.close()  # twice is harmless
    # A second follower proves the device still pushes; the closed one hears nothing more.
    witness: queue.Queue[Event] = queue.Queue()
    session.follow([TOPIC_HEALTH], witness.put)
    later = _run_checks(session)
    assert _next_report(witness, later.t).t == later.t
    assert all(HealthReport.from_wire(e.data).t < later.t for e in list(heard.queue))


def test_two_followers_of_one_topic_are_independent(session: DeviceSession) -> None:
    first: queue.Queue[Event] = queue.Queue()
    second: queue.Queue[Event] = queue.Queue()
    one = session.follow([TOPIC_HEALTH], first.put, subscribe=True)
    session.follow([TOPIC_HEALTH, TOPIC_ALERT], second.put)  # the same topic and one more
    report = _run_checks(session)
    assert _next_report(first, report.t).t == report.t
    assert _next_report(second, report.t).t == report.t

    one.close()  # the other follower keeps hearing
    assert session.followers(TOPIC_HEALTH) == 1 and session.followers(TOPIC_ALERT) == 1
    later = _run_checks(session)
    assert _next_report(second, later.t).t == later.t
    assert all(HealthReport.from_wire(e.data).t < later.t for e in list(first.queue))


def test_the_same_listener_followed_twice_is_closed_once(session: DeviceSession) -> None:
    heard: queue.Queue[Event] = queue.Queue()
    one = session.follow([TOPIC_HEALTH], heard.put, subscribe=True)
    session.follow([TOPIC_HEALTH], heard.put)
    report = _run_checks(session)
    assert _next_report(heard, report.t).t == report.t
    assert _next_report(heard, report.t).t == report.t  # delivered to each subscription
    one.close()
    later = _run_checks(session)
    assert _next_report(heard, later.t).t == later.t
    assert heard.empty()


def test_a_listener_may_close_its_own_subscription(session: DeviceSession) -> None:
    heard: list[Event] = []
    closed = threading.Event()

    def once(event: Event) -> None:
        heard.append(event)
        follow.close()  # on the reader thread, inside its own delivery
        closed.set()

    follow = session.follow([TOPIC_HEALTH], once, subscribe=True)
    witness: queue.Queue[Event] = queue.Queue()
    session.follow([TOPIC_HEALTH], witness.put)
    _run_checks(session)
    assert closed.wait(WAIT_S)
    later = _run_checks(session)
    assert _next_report(witness, later.t).t == later.t
    assert len(heard) == 1 and not follow.open


def test_closing_while_events_arrive_loses_no_other_follower(session: DeviceSession) -> None:
    """Subscriptions open and close on this thread while the reader thread delivers: the steady
    follower hears every report."""
    steady: queue.Queue[Event] = queue.Queue()
    session.follow([TOPIC_HEALTH], steady.put, subscribe=True)
    runs = 5
    done = threading.Event()

    def churn() -> None:
        while not done.is_set():
            session.follow([TOPIC_HEALTH], lambda _e: None).close()

    churner = threading.Thread(target=churn, name="churn")
    churner.start()
    try:
        reports = [_run_checks(session) for _ in range(runs)]
    finally:
        done.set()
        churner.join()
    for report in reports:
        assert _next_report(steady, report.t).t == report.t
    assert session.followers(TOPIC_HEALTH) == 1


def test_a_failed_subscribe_leaves_no_follower(console_env: ConsoleEnv) -> None:
    core = ConsoleCore(console_env)
    try:
        session = core.session("local")  # never connected
        with pytest.raises(DeviceError, match="not connected"):
            session.follow([TOPIC_HEALTH], lambda _e: None, subscribe=True)
        assert session.followers(TOPIC_HEALTH) == 0
    finally:
        core.close()


def test_topics_are_asked_for_again_after_a_reconnect(console_env: ConsoleEnv, daemon: RunningDaemon) -> None:
    entry = DeviceEntry(name="restarted", kind="socket", socket=str(daemon.socket_path))
    session = DeviceSession(entry, make_transport(entry, console_env), console_env.clock)
    session.enable_reconnect(Backoff(initial_s=0.2, max_s=1.0))
    try:
        session.connect()
        heard: queue.Queue[Event] = queue.Queue()
        session.follow([TOPIC_HEALTH], heard.put, subscribe=True)
        # Telemetry too: the session restores event topics first, so a sample on the new link
        # means the topics were asked for.
        news: queue.Queue[State | None] = queue.Queue()
        session.state_listeners.append(lambda state, _message: news.put(state))
        session.sample_listeners.append(lambda _t, _values: news.put(None))
        session.start_telemetry(10.0)

        stop_daemon(daemon.socket_path)  # the link drops
        start_daemon(str(daemon.socket_path), str(daemon.root), ["--rate", "10"])
        seen: list[State] = []
        while True:
            state = news.get(timeout=WAIT_S * 2)
            if state is not None:
                seen.append(state)
            elif State.RECONNECTING in seen and seen[-1] is State.CONNECTED:
                break

        report = _run_checks(session)  # nothing here asked for the topic on the new link
        assert _next_report(heard, report.t).t == report.t
    finally:
        session.close()
