"""A device session: connection state, capabilities and live telemetry for one device.

The GUI and edgectl both drive devices through this class. Listeners are plain callables
run on the connection's reader thread; the GUI marshals them onto its own thread. Pushed events
other than telemetry samples (alerts, jobs, the store, health) are followed with
:meth:`DeviceSession.follow`, whose :class:`Subscription` lets go of exactly its own listener.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from console.core.devices.backoff import Backoff, ReconnectLoop
from console.core.devices.client import (
    ConnectionLost,
    DeviceConnection,
    DeviceError,
    RequestIds,
    checked_result,
    process_ids,
)
from console.core.env import ConsoleEnv
from console.core.settings import DeviceEntry
from console.transport.base import Transport, TransportError
from console.transport.local import LocalTransport
from console.transport.ssh_config import ConfigContext, Route, resolve_route
from console.transport.ssh_errors import SshError
from device_runtime.protocol import (
    DEFAULT_RATE_HZ,
    EVENTS_SUBSCRIBE,
    PING,
    REPLAYED_METHODS,
    TELEMETRY_DESCRIBE,
    TELEMETRY_SUBSCRIBE,
    TELEMETRY_UNSUBSCRIBE,
    TOPIC_SAMPLE,
    Capabilities,
    Empty,
    Event,
    Method,
    MetricSpec,
    ProtocolError,
    Record,
    Sample,
    SubscribeEvents,
    SubscribeTelemetry,
    TelemetryTable,
)

log = logging.getLogger("edge_console.session")
P = TypeVar("P", bound=Record)
T = TypeVar("T", bound=Record)

if TYPE_CHECKING:
    from console.core.telemetry.metrics import (
        TelemetryStore,  # numpy: imported once a stream starts (status needs none)
    )


@dataclass
class Outage:
    """A time the device was out of reach, on the console's clock (``end`` None: still out)."""

    start: float
    reason: str
    end: float | None = None
    attempts: int = 0


def outage_text(session: DeviceSession) -> str:
    """``disconnected since 14:02 - reconnecting (attempt 3)``; "" while connected."""
    if session.state is State.CONNECTED or session.down_since is None:
        return ""
    since = time.strftime("%H:%M", time.localtime(session.down_since))
    if session.state is State.RECONNECTING or (session.state is State.CONNECTING and session.attempt):
        return "disconnected since %s - reconnecting (attempt %d)" % (since, max(1, session.attempt))
    if session.state is State.CONNECTING:
        return "disconnected since %s - connecting" % since
    reason = session.message.rstrip(".") if session.message else "no reason given"
    return "disconnected since %s - not retrying: %s. Press Reconnect to try again" % (since, reason)


class State(str, Enum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    FAILED = "unreachable"


def make_transport(entry: DeviceEntry, env: ConsoleEnv) -> Transport:
    if entry.kind == "local":
        return LocalTransport(env.python, env.local_socket, env.local_root)
    if entry.kind == "socket" and entry.socket:
        socket_path = Path(entry.socket)
        return LocalTransport(env.python, socket_path, socket_path.parent, demo=False, start=False)
    if entry.kind == "ssh":
        def route() -> Route:
            context = ConfigContext(env.ssh_config_path, env.home, env.local_user)
            return resolve_route(entry.host or entry.name, context, entry.user, entry.port,
                                 [entry.key] if entry.key else [])

        from console.transport.ssh import SshTransport  # paramiko: only a session with an SSH device pays for it

        return SshTransport(route, env.known_hosts_path, env.ssh_prompts, env.environ, entry.runtime)
    raise TransportError(
        "device %r uses the %r transport, which this console does not provide" % (entry.name, entry.kind)
    )


# How long a state-changing request whose reply was lost waits for the link to come back before
# it is sent again (the device keeps replies for 15 minutes), and how often it is sent again.
REPLAY_WAIT_S = 300.0
# Longest wait between reconnection attempts. Each attempt is only a TCP connect (a new SYN every
# 2 s while the device is silent), so a short cap costs little and the console streams again
# within a few seconds of the link coming back, however long it was gone.
RECONNECT_MAX_WAIT_S = 2.0
MAX_REPLAYS = 3

StateListener = Callable[["State", str], None]
SampleListener = Callable[[float, dict[str, float]], None]
TableListener = Callable[[list[MetricSpec]], None]
EventListener = Callable[[Event], None]


class Subscription:
    """One listener following some event topics of a session (made by :meth:`DeviceSession.follow`).

    The listener runs on the connection's reader thread. :meth:`close` may be called from any
    thread, the listener's own included: it removes this listener and no other (not another
    follower of the same topics, not the same function followed twice). An event whose delivery
    had already begun on the reader thread may still reach the listener as ``close`` returns.
    """

    def __init__(self, session: DeviceSession, topics: tuple[str, ...], listener: EventListener) -> None:
        self.session = session
        self.topics = topics
        self.listener = listener
        self._open = True

    @property
    def open(self) -> bool:
        return self._open

    def subscribe(self, timeout: float = 30.0) -> None:
        """Ask the device for these topics on the current connection (a request: off the GUI thread).
        After a reconnect the session asks again by itself."""
        self.session.subscribe_events(list(self.topics), timeout)

    def close(self) -> None:
        """Stop hearing the topics; safe to call twice."""
        if self._open:
            self._open = False
            self.session._unfollow(self)

    def deliver(self, event: Event) -> None:
        if self._open:
            self.listener(event)


class DeviceSession:
    def __init__(self, entry: DeviceEntry, transport: Transport, clock: Callable[[], float]) -> None:
        self.entry = entry
        self.transport = transport
        self.clock = clock
        self.state = State.DISCONNECTED
        self.message = ""
        self.store: TelemetryStore | None = None
        self.rate_hz = DEFAULT_RATE_HZ
        self.runtime_version: str | None = None
        self.capabilities: Capabilities | None = None
        self.state_listeners: list[StateListener] = []
        self.sample_listeners: list[SampleListener] = []
        self.table_listeners: list[TableListener] = []
        # topic -> followers of pushed events other than telemetry samples (alerts, jobs, the store, health);
        # replaced, never changed in place, so the reader thread reads a consistent tuple without the lock
        self._followers: dict[str, tuple[Subscription, ...]] = {}
        self._followers_lock = threading.Lock()
        self._conn: DeviceConnection | None = None
        self._lock = threading.Lock()
        self._ids: RequestIds = process_ids()  # ids keep counting across reconnects
        self._changed = threading.Condition()  # state or connection changed (a retry waits on it)
        # Reconnection (off unless enable_reconnect): what to restore once the link is back.
        self._reconnect: ReconnectLoop | None = None
        self._telemetry_on = False
        self._topics: list[str] = []
        self.next_attempt_at: float | None = None
        self.down_since: float | None = None  # console clock: when the link was lost (or first failed)
        self.attempt = 0  # the reconnection attempt under way
        self.outages: list[Outage] = []  # oldest first; the last one may be ongoing
        self.outage_listeners: list[Callable[[Outage], None]] = []
        self._epoch = 0  # counts close() calls: a link closed by one is not a dropped link

    @property
    def name(self) -> str:
        return self.entry.name

    def _set_state(self, state: State, message: str = "") -> None:
        if state is not self.state:  # one line per change, not one per reconnection attempt
            log.log(logging.WARNING if state is State.FAILED else logging.INFO, "%s: %s%s", self.name, state.value,
                    ": " + message if message else "")
        self.state = state
        self.message = message
        with self._changed:
            self._changed.notify_all()
        for listener in list(self.state_listeners):
            listener(state, message)

    def connect(self, timeout: float = 20.0) -> Capabilities:
        """Connect and handshake. Raises :class:`DeviceError` / :class:`TransportError`."""
        with self._lock:
            if self._conn is not None and self.state is State.CONNECTED and self.capabilities:
                return self.capabilities
            self._set_state(State.CONNECTING, "connecting to %s" % self.transport.describe())
            epoch = self._epoch
            conn = DeviceConnection(self.transport, on_event=self._on_event,
                                    on_closed=lambda reason: self._on_closed(reason, epoch),
                                    ids=self._ids)
            try:
                welcome = conn.connect(timeout)
            except (DeviceError, TransportError) as exc:
                self._went_down(str(exc))
                if not (self._reconnect is not None and self._reconnect.running):
                    self._set_state(State.FAILED, str(exc))
                raise
            self._conn = conn
            self.next_attempt_at = None
            self._came_back()
            self.runtime_version = welcome.runtime_version
            self.capabilities = welcome.capabilities
            self._set_state(State.CONNECTED, "runtime %s" % welcome.runtime_version)
            return welcome.capabilities

    def _require(self) -> DeviceConnection:
        if self._conn is None:
            raise DeviceError("%s is not connected" % self.name)
        return self._conn

    def describe_telemetry(self) -> TelemetryTable:
        result = self._require().call(TELEMETRY_DESCRIBE, Empty())
        return result

    def start_telemetry(self, rate_hz: float | None = None, backfill_s: float = 0.0) -> TelemetryTable:
        """Subscribe (or change rate). The metric table defines the store's columns.

        Back-filled history arrives ahead of the subscribe reply, so with ``backfill_s`` the
        store is built from ``telemetry.describe`` first and those samples have a home.
        """
        if rate_hz is not None:
            self.rate_hz = rate_hz
        if backfill_s > 0:
            described = self.describe_telemetry()
            self._ensure_store(described.metrics)
        table = self._require().call(TELEMETRY_SUBSCRIBE, SubscribeTelemetry(self.rate_hz, backfill_s))
        self._telemetry_on = True
        self.rate_hz = table.rate_hz
        self._ensure_store(table.metrics)
        return table

    def _ensure_store(self, metrics: list[MetricSpec]) -> None:
        names = [m.name for m in metrics]
        if self.store is None or [m.name for m in self.store.metrics] != names:
            from console.core.telemetry.metrics import TelemetryStore

            self.store = TelemetryStore(metrics)
            for listener in list(self.table_listeners):
                listener(metrics)

    def stop_telemetry(self) -> None:
        self._telemetry_on = False
        if self._conn is not None:
            self._conn.call(TELEMETRY_UNSUBSCRIBE, Empty())

    def call(self, method: Method[P, T], params: P, timeout: float = 30.0) -> T:
        """Call a declared protocol method (``device_runtime.protocol.STORE_MODELS`` and the like);
        the result is its result record, its type checked once (a :class:`DeviceError` otherwise).
        Replayed like :meth:`request`."""
        return checked_result(method, self.request(method.name, params, timeout=timeout))

    def request(self, method: str, params: Record, timeout: float = 30.0) -> Record:
        """Call a protocol method by name; the result is the method's typed record.

        A state-changing method (``REPLAYED_METHODS``) whose reply the link lost is sent again,
        with the same id, once the session has reconnected: the device answers it with the reply
        it kept, so it acts exactly once. That needs reconnection on and a device that replays.
        """
        conn = self._require()
        if method not in REPLAYED_METHODS or self._reconnect is None:
            return conn.request(method, params, timeout=timeout)
        request_id = conn.new_id()
        for attempt in range(MAX_REPLAYS + 1):
            try:
                return conn.request(method, params, timeout=timeout, request_id=request_id)
            except ConnectionLost as exc:
                if not conn.replays or attempt == MAX_REPLAYS:
                    raise
                lost = exc
            conn = self._next_connection(conn, method, lost)
        raise AssertionError("unreachable")  # pragma: no cover

    def _next_connection(self, lost_conn: DeviceConnection, method: str, lost: ConnectionLost) -> DeviceConnection:
        """Wait for the reconnect loop to replace ``lost_conn``; raises ConnectionLost when it gives up."""
        deadline = time.monotonic() + REPLAY_WAIT_S
        with self._changed:
            while True:
                conn = self._conn
                if conn is not None and conn is not lost_conn and self.state is State.CONNECTED:
                    break
                if self.state in (State.FAILED, State.DISCONNECTED) or time.monotonic() > deadline:
                    raise ConnectionLost("the link to %s dropped before it answered %s, and it is not back (%s); "
                                         "check on the device whether it happened" % (self.name, method, lost),
                                         lost.code)
                self._changed.wait(min(1.0, max(0.0, deadline - time.monotonic())))
        if not conn.replays:  # the runtime was replaced by one that would act twice
            raise ConnectionLost("the link to %s dropped before it answered %s, and its runtime now cannot tell "
                                 "a retry from a new request; check on the device whether it happened"
                                 % (self.name, method), lost.code)
        return conn

    def subscribe_events(self, topics: list[str], timeout: float = 30.0) -> None:
        """Ask the device to push these topics on the current connection; after a reconnect the
        session asks again for every topic it was ever granted."""
        self._require().call(EVENTS_SUBSCRIBE, SubscribeEvents(list(topics)), timeout=timeout)
        self._topics = sorted(set(self._topics) | set(topics))

    def follow(self, topics: Iterable[str], listener: EventListener, subscribe: bool = False) -> Subscription:
        """Call ``listener`` with each pushed event of ``topics``, on the reader thread, until the
        returned subscription is closed. Registering sends nothing: the device pushes a topic once
        :meth:`Subscription.subscribe` (or another follower) asked for it on this connection, and
        again after every reconnect. ``subscribe``: ask now (a request; if it fails, the new
        subscription is closed and the error raised)."""
        subscription = Subscription(self, tuple(dict.fromkeys(topics)), listener)
        with self._followers_lock:
            for topic in subscription.topics:
                self._followers[topic] = (*self._followers.get(topic, ()), subscription)
        if subscribe:
            try:
                subscription.subscribe()
            except BaseException:
                subscription.close()
                raise
        return subscription

    def _unfollow(self, subscription: Subscription) -> None:
        with self._followers_lock:
            for topic in subscription.topics:
                left = tuple(s for s in self._followers.get(topic, ()) if s is not subscription)
                if left:
                    self._followers[topic] = left
                else:
                    self._followers.pop(topic, None)

    def followers(self, topic: str) -> int:
        """How many open subscriptions follow ``topic``."""
        return len(self._followers.get(topic, ()))

    def ping(self) -> float:
        """Round trip time of one request, in seconds."""
        start = self.clock()
        self._require().call(PING, Empty())
        return self.clock() - start

    def _on_event(self, event: Event) -> None:
        if event.topic != TOPIC_SAMPLE:
            for subscription in self._followers.get(event.topic, ()):
                subscription.deliver(event)
            return
        try:
            sample = Sample.from_wire(event.data)
        except ProtocolError:
            return
        store = self.store
        if store is None or not store.add(sample.t, sample.values, sample.seq):
            return
        for listener in list(self.sample_listeners):
            listener(sample.t, sample.values)

    def _went_down(self, reason: str) -> None:
        if self.down_since is not None:
            return
        self.down_since = now = self.clock()
        store = self.store
        if store is not None and store.last_t is not None:
            store.mark_gap(max(now, store.last_t + 1e-3))
        self.outages.append(Outage(now, reason))
        self._tell_outage()

    def _came_back(self) -> None:
        if self.down_since is None:
            return
        self.down_since = None
        if self.outages and self.outages[-1].end is None:
            self.outages[-1].end = self.clock()
            self.outages[-1].attempts = self.attempt
            self._tell_outage()
        self.attempt = 0

    def _tell_outage(self) -> None:
        for listener in list(self.outage_listeners):
            listener(self.outages[-1])

    def can_retry(self, exc: BaseException) -> bool:
        """Whether reconnection is on and ``exc`` is worth another attempt (not a refused key or host key)."""
        return self._reconnect is not None and not (isinstance(exc, SshError) and not exc.retryable)

    def retry_later(self, reason: str) -> None:
        """The first connection failed: keep trying with backoff, as after a dropped link."""
        if self._reconnect is not None:
            self._reconnect.start(reason)

    def _on_closed(self, reason: str, epoch: int = -1) -> None:
        if epoch != self._epoch:
            return  # a link this session closed on purpose (close, Reconnect): nothing to reconnect
        self._conn = None
        self._went_down(reason)
        if self._reconnect is None:
            self._set_state(State.FAILED, reason)
            return
        self._reconnect.start("connection lost: %s" % reason)

    # -- reconnection ------------------------------------------------------------------------
    def enable_reconnect(self, backoff: Backoff | None = None) -> None:
        """After a dropped link, connect again with backoff and restore telemetry and event subscriptions."""
        backoff = backoff or Backoff(max_s=RECONNECT_MAX_WAIT_S)
        self._reconnect = ReconnectLoop(backoff, self._restore, self._on_retry_wait, self._on_give_up,
                                        lambda exc: isinstance(exc, SshError) and not exc.retryable,
                                        (DeviceError, TransportError, OSError))

    def _on_retry_wait(self, delay_s: float, reason: str, attempt: int) -> None:
        self.next_attempt_at = self.clock() + delay_s
        self.attempt = attempt
        self._set_state(State.RECONNECTING, "%s; attempt %d in %.1f s" % (reason, attempt, delay_s))

    def _on_give_up(self, exc: Exception) -> None:
        self.next_attempt_at = None
        self._set_state(State.FAILED, str(exc))

    def _restore(self) -> None:
        """One reconnection attempt: handshake, then the subscriptions the link had, with the gap back-filled."""
        self.connect()
        if self._topics:
            self.subscribe_events(self._topics)
        if self._telemetry_on:
            store = self.store
            gap = self.clock() - store.last_t + 2.0 if store is not None and store.last_t is not None else 0.0
            self.start_telemetry(self.rate_hz, backfill_s=max(0.0, min(gap, 3600.0)))

    def close(self) -> None:
        self._epoch += 1
        if self._reconnect is not None:
            self._reconnect.stop()
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        self.transport.close()  # an SSH link outlives a stream that failed its handshake
        self._set_state(State.DISCONNECTED, "")
