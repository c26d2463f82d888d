"""One client's conversation with the daemon, without I/O.

Feed it bytes; it returns the frames to send back. Handshake first, then typed requests
dispatched by method. Anything malformed gets an error reply and the session goes on.
"""

from __future__ import annotations

import itertools
import logging
import time
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Set, Tuple, Union

from device_runtime import __version__
from device_runtime.audit import AUDITED_METHODS, AuditLog, describe
from device_runtime.protocol import (
    PROTOCOL_VERSION,
    REPLAYED_METHODS,
    Capabilities,
    Empty,
    ErrorCode,
    ErrorReply,
    FrameDecoder,
    Hello,
    Message,
    Pong,
    ProtocolError,
    Record,
    Request,
    Response,
    SubscribeEvents,
    SubscribeTelemetry,
    TelemetryTable,
    Welcome,
    check_compatible,
    decode,
    encode,
    parse_params,
)
from device_runtime.server import roles
from device_runtime.server.deferred import Deferred
from device_runtime.server.events import EventBus
from device_runtime.server.replay import ReplyCache, params_digest
from device_runtime.server.service import Handler
from device_runtime.server.telemetry import TelemetryHub

log = logging.getLogger("edge_runtime.session")
MAX_INSTANCE_CHARS = 128
# The methods every session answers itself; the daemon's services answer the rest.
SESSION_METHODS = frozenset({"ping", "telemetry.describe", "telemetry.subscribe", "telemetry.unsubscribe",
                             "device.capabilities", "events.subscribe", "events.unsubscribe"})


class ClientSession:
    """Handshake and dispatch for one connection. ``send`` writes a frame to this client;
    ``close`` asks the transport to hang up after flushing."""

    def __init__(
        self,
        key: int,
        hub: TelemetryHub,
        capabilities: Capabilities,
        send: Callable[[bytes], None],
        close: Callable[[], None],
        send_telemetry: Optional[Callable[[bytes], None]] = None,
        bus: Optional[EventBus] = None,
        services: Optional[Mapping[str, Handler]] = None,
        audit: Optional[AuditLog] = None,
        actor: str = "unknown",
        replies: Optional[ReplyCache] = None,
        admin: bool = True,
    ) -> None:
        self.key = key
        self.hub = hub
        self.capabilities = capabilities
        self._send = send
        self._close = close
        self._send_telemetry = send_telemetry or send
        self.bus = bus if bus is not None else EventBus()
        self.audit = audit
        self.actor = actor
        self.replies = replies  # shared by the daemon's sessions: a retry comes on a new connection
        self.admin = admin  # may change what the device trusts (server/roles.py)
        self.instance: Optional[str] = None  # the console instance named in hello, if any
        self._decoder = FrameDecoder()
        self._frames: Optional[Iterator[Union[bytes, ProtocolError]]] = None  # received, not yet handled
        self.held = False
        self.ready = False
        self.closed = False
        self.errors = 0
        self._subscriptions: Set[str] = set()  # "telemetry", "events": such a client is never idle
        self._handlers: Dict[str, Handler] = {
            "ping": self._ping,
            "telemetry.describe": self._describe,
            "telemetry.subscribe": self._subscribe,
            "telemetry.unsubscribe": self._unsubscribe,
            "device.capabilities": self._capabilities,
            "events.subscribe": self._subscribe_events,
            "events.unsubscribe": self._unsubscribe_events,
        }
        assert set(self._handlers) == SESSION_METHODS
        # Handlers of the daemon's services (alerts, jobs, ...), keyed by method.
        self._handlers.update(services or {})

    # -- input ------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        frames = self._decoder.feed(data)
        self._frames = frames if self._frames is None else itertools.chain(self._frames, frames)
        self._drain()

    def hold(self, held: bool) -> None:
        """While held (the client is not reading its replies), frames already received wait
        instead of being answered into a backlog; releasing answers them."""
        self.held = held
        if not held:
            self._drain()

    def _drain(self) -> None:
        while self._frames is not None and not self.held and not self.closed:
            item = next(self._frames, None)
            if item is None:
                self._frames = None
            elif isinstance(item, ProtocolError):
                self._reply_error(item)
            else:
                self._on_frame(item)

    def _on_frame(self, frame: bytes) -> None:
        try:
            message = decode(frame)
        except ProtocolError as exc:
            self._reply_error(exc)
            return
        if isinstance(message, Hello):
            self._on_hello(message)
        elif isinstance(message, Request):
            self._on_request(message)
        else:
            self._reply_error(
                ProtocolError(ErrorCode.UNKNOWN_TYPE, "a client may not send %r messages" % message.TYPE)
            )

    def _on_hello(self, hello: Hello) -> None:
        problem = check_compatible(hello.protocol, hello.min_protocol)
        if problem:
            self._emit(ErrorReply(ErrorCode.INCOMPATIBLE, problem, hello.id))
            self.closed = True
            self._close()
            return
        self.ready = True
        self.instance = hello.instance if hello.instance and len(hello.instance) <= MAX_INSTANCE_CHARS else None
        self._emit(Welcome(hello.id, PROTOCOL_VERSION, __version__, self.capabilities))

    def _on_request(self, request: Request) -> None:
        if not self.ready:
            self._emit(ErrorReply(ErrorCode.NOT_READY, "send 'hello' before any request", request.id))
            return
        key = self._replay_key(request)
        if key is None:
            self._dispatch(request, self._send)
            return
        assert self.replies is not None
        try:
            if not self.replies.begin(key, params_digest(request.method, request.params), self._send):
                log.info("answered a retry of %s (id %d) from %s with the reply kept", request.method,
                         request.id, self.actor)
                return
        except ProtocolError as exc:
            self._reply_error(exc)
            return
        replies, replied = self.replies, []

        def reply(frame: bytes) -> None:  # now, or later from a deferred handler's work
            replied.append(True)
            replies.finish(key, frame)
            self._send(frame)

        try:
            self._dispatch(request, reply)
        except BaseException:
            if not replied:
                reply(encode(ErrorReply(ErrorCode.INTERNAL, "%s failed" % request.method, request.id)))
            raise

    def _replay_key(self, request: Request) -> Optional[Tuple[str, str, int]]:
        """Requests that change state, from a console that names itself, are answered once per id."""
        if self.replies is None or self.instance is None or request.method not in REPLAYED_METHODS:
            return None
        return (self.actor, self.instance, request.id)

    def _dispatch(self, request: Request, reply: Callable[[bytes], None]) -> None:
        """Handle one request and hand its reply frame (a response or an error) to ``reply``: at
        once, or on the event loop when the work a handler deferred is done."""
        params: Any = None
        try:
            params = parse_params(request)
            handler = self._handlers.get(request.method)
            if request.method in roles.ADMIN_METHODS and not self.admin:
                raise ProtocolError(ErrorCode.NOT_ALLOWED, roles.refusal(request.method, self.actor), request.id)
            if handler is None:
                raise ProtocolError(
                    ErrorCode.UNKNOWN_METHOD, "this runtime does not serve %r" % request.method, request.id
                )
            result = handler(params)
        except Exception as exc:
            reply(self._reply_frame(request, params, None, exc))
            return
        if isinstance(result, Deferred):
            result.start(lambda record, error: reply(self._reply_frame(request, params, record, error)))
            return
        reply(self._reply_frame(request, params, result, None))

    def _reply_frame(self, request: Request, params: Any, result: Optional[Record],
                     error: Optional[BaseException]) -> bytes:
        if isinstance(error, ProtocolError):
            error.request_id = request.id
            self._audit(request.method, params, error.message)
            self.errors += 1
            return encode(ErrorReply(error.code, error.message, error.request_id))
        if error is not None or result is None:  # a handler bug must not take the daemon down
            self._audit(request.method, params, "internal error: %s" % error)
            return encode(ErrorReply(ErrorCode.INTERNAL, "%s failed: %s" % (request.method, error), request.id))
        self._audit(request.method, params, "ok")
        return encode(Response(request.id, result.to_wire()))

    def _audit(self, method: str, params: Any, result: str) -> None:
        action = AUDITED_METHODS.get(method)
        if self.audit is None or action is None or not isinstance(params, Record):
            return
        try:
            self.audit.record(self.actor, action, describe(method, params), result)
        except OSError as exc:  # a full disk must not turn an operator's action into an error
            log.error("could not write the audit log: %s", exc)

    # -- handlers ---------------------------------------------------------------------------
    def _ping(self, _: Any) -> Record:
        return Pong(time.time())

    def _describe(self, _: Any) -> Record:
        return TelemetryTable(self.hub.metrics, self.hub.rate_hz)

    def _subscribe(self, params: Any) -> Record:
        assert isinstance(params, SubscribeTelemetry)
        rate = self.hub.subscribe(self.key, self._send_telemetry, params.rate_hz, params.backfill_s)
        self._subscriptions.add("telemetry")
        return TelemetryTable(self.hub.metrics, rate)

    def _unsubscribe(self, _: Any) -> Record:
        self.hub.unsubscribe(self.key)
        self._subscriptions.discard("telemetry")
        return Empty()

    def _capabilities(self, _: Any) -> Record:
        return self.capabilities

    def _subscribe_events(self, params: Any) -> Record:
        assert isinstance(params, SubscribeEvents)
        self.bus.subscribe(self.key, params.topics, self._send)
        self._subscriptions.add("events")
        return Empty()

    def _unsubscribe_events(self, params: Any) -> Record:
        assert isinstance(params, SubscribeEvents)
        self.bus.unsubscribe(self.key, params.topics or None)
        if not params.topics:
            self._subscriptions.discard("events")
        return Empty()

    # -- output -----------------------------------------------------------------------------
    def _emit(self, message: Message) -> None:
        self._send(encode(message))

    def _reply_error(self, exc: ProtocolError) -> None:
        self.errors += 1
        self._emit(ErrorReply(exc.code, exc.message, exc.request_id))

    def disconnect(self) -> None:
        self.closed = True
        self.hub.unsubscribe(self.key)
        self.bus.unsubscribe(self.key)

    @property
    def subscribed(self) -> bool:
        return bool(self._subscriptions)

    @property
    def pending_bytes(self) -> int:
        return self._decoder.pending


