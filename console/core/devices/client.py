"""The console's side of the protocol.

:class:`ClientProtocol` is the conversation without I/O (handshake, request ids, replies,
events); :class:`DeviceConnection` pumps a transport stream through it on a reader thread.
"""

from __future__ import annotations

import itertools
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from console import __version__ as console_version
from console.transport.base import Stream, Transport, TransportError
from device_runtime.protocol import (
    MIN_PROTOCOL_VERSION,
    PROTOCOL_VERSION,
    REPLAY_PROTOCOL_VERSION,
    Capabilities,
    Empty,
    ErrorCode,
    ErrorReply,
    Event,
    FrameDecoder,
    Hello,
    Method,
    ProtocolError,
    Record,
    Request,
    Response,
    Welcome,
    decode,
    encode,
    parse_result,
)


class DeviceError(Exception):
    """A request the device refused or could not answer. ``code`` is a protocol error code."""

    def __init__(self, message: str, code: str = ErrorCode.FAILED) -> None:
        super().__init__(message)
        self.code = code


P = TypeVar("P", bound=Record)
T = TypeVar("T", bound=Record)


def checked_result(method: Method[Any, T], result: Record) -> T:
    """``result`` as ``method``'s declared result record; a reply of another type is a
    :class:`DeviceError` that says what came instead (a device speaking another protocol)."""
    if not isinstance(result, method.result):
        raise DeviceError("the device answered %s with a %s record where a %s was expected; the console and "
                          "edge-runtime on the device may speak different protocol versions: update the older one"
                          % (method.name, type(result).__name__, method.result.__name__), ErrorCode.BAD_FIELD)
    return result


class IncompatibleRuntime(DeviceError):
    pass


class ConnectionLost(DeviceError):
    pass


@dataclass
class Reply:
    request_id: int
    response: Response | None = None
    error: ErrorReply | None = None
    welcome: Welcome | None = None


class RequestIds:
    """Request ids that never repeat under ``token``, the name this console gives itself in ``hello``.

    A device keeps its replies to state-changing requests by (token, id) and answers a request
    sent again with the same id from them, so ids must stay unique across every connection that
    shares the token: one :class:`RequestIds` per console process (:func:`process_ids`).
    """

    def __init__(self, token: str | None = None) -> None:
        self.token = token or secrets.token_hex(16)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            return next(self._ids)


_process_ids: RequestIds | None = None
_process_ids_lock = threading.Lock()


def process_ids() -> RequestIds:
    """This console process's ids, made on first use."""
    global _process_ids
    with _process_ids_lock:
        if _process_ids is None:
            _process_ids = RequestIds()
        return _process_ids


class ClientProtocol:
    """Turns bytes into replies and events; hands out request ids. No threads, no I/O."""

    def __init__(self, ids: RequestIds | None = None) -> None:
        self.ids = ids or process_ids()
        self._decoder = FrameDecoder()

    def next_id(self) -> int:
        return self.ids.next()

    def hello(self) -> tuple[int, bytes]:
        request_id = self.next_id()
        message = Hello(request_id, PROTOCOL_VERSION, "edge-console/%s" % console_version,
                        MIN_PROTOCOL_VERSION, self.ids.token)
        return request_id, encode(message)

    def request(self, method: str, params: Record | None = None, request_id: int | None = None) -> tuple[int, bytes]:
        """A request frame; ``request_id`` sends an earlier request again under its own id."""
        if request_id is None:
            request_id = self.next_id()
        body = params.to_wire() if params is not None else {}
        return request_id, encode(Request(request_id, method, body))

    def feed(self, data: bytes) -> list[Reply | Event | ProtocolError]:
        out: list[Reply | Event | ProtocolError] = []
        for item in self._decoder.feed(data):
            if isinstance(item, ProtocolError):
                out.append(item)
                continue
            try:
                message = decode(item)
            except ProtocolError as exc:
                out.append(exc)
                continue
            if isinstance(message, Event):
                out.append(message)
            elif isinstance(message, Response):
                out.append(Reply(message.id, response=message))
            elif isinstance(message, Welcome):
                out.append(Reply(message.id, welcome=message))
            elif isinstance(message, ErrorReply):
                if message.id is None:
                    out.append(ProtocolError(message.code, message.message))
                else:
                    out.append(Reply(message.id, error=message))
            else:
                out.append(ProtocolError(ErrorCode.UNKNOWN_TYPE, "unexpected %r from device" % message.TYPE))
        return out


def check_welcome(welcome: Welcome) -> None:
    if welcome.protocol < MIN_PROTOCOL_VERSION:
        raise IncompatibleRuntime(
            "the device's runtime speaks protocol %d but this console needs at least %d: "
            "update the runtime on the device" % (welcome.protocol, MIN_PROTOCOL_VERSION),
            ErrorCode.INCOMPATIBLE,
        )


class _Pending:
    __slots__ = ("done", "reply")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.reply: Reply | None = None


EventHandler = Callable[[Event], None]
ClosedHandler = Callable[[str], None]


class DeviceConnection:
    """One live link to a device's runtime. Callbacks run on the reader thread."""

    def __init__(self, transport: Transport, on_event: EventHandler | None = None,
                 on_closed: ClosedHandler | None = None, ids: RequestIds | None = None) -> None:
        self.transport = transport
        self.on_event = on_event
        self.on_closed = on_closed
        self.welcome: Welcome | None = None
        self.protocol_errors: list[str] = []
        self._proto = ClientProtocol(ids)
        self._stream: Stream | None = None
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None
        self._closing = False
        self._closed_reason: str | None = None

    @property
    def capabilities(self) -> Capabilities:
        if self.welcome is None:
            raise ConnectionLost("not connected")
        return self.welcome.capabilities

    def connect(self, timeout: float = 20.0) -> Welcome:
        """Open the stream and complete the handshake. Idempotent while connected."""
        if self.welcome is not None and self._closed_reason is None:
            return self.welcome
        self._closing = False
        self._closed_reason = None
        self._stream = self.transport.open()
        self._reader = threading.Thread(target=self._read_loop, name="device-reader", daemon=True)
        self._reader.start()
        request_id, frame = self._proto.hello()
        reply = self._roundtrip(request_id, frame, timeout)
        if reply.error is not None:
            self.close()
            if reply.error.code == ErrorCode.INCOMPATIBLE:
                raise IncompatibleRuntime(reply.error.message, reply.error.code)
            raise DeviceError(reply.error.message, reply.error.code)
        if reply.welcome is None:
            self.close()
            raise DeviceError("the device answered the handshake with something else")
        check_welcome(reply.welcome)
        self.welcome = reply.welcome
        return reply.welcome

    @property
    def replays(self) -> bool:
        """The device answers a retried state-changing request from its kept reply (protocol 2)."""
        return self.welcome is not None and self.welcome.protocol >= REPLAY_PROTOCOL_VERSION

    def new_id(self) -> int:
        return self._proto.next_id()

    def request(self, method: str, params: Record | None = None, timeout: float = 30.0,
                request_id: int | None = None) -> Record:
        """Call ``method``; ``request_id`` (from :meth:`new_id` or an earlier connection of the same
        console) sends a request whose reply was lost again, for the device to answer once."""
        request_id, frame = self._proto.request(method, params or Empty(), request_id)
        reply = self._roundtrip(request_id, frame, timeout)
        if reply.error is not None:
            raise DeviceError(reply.error.message, reply.error.code)
        assert reply.response is not None
        try:
            return parse_result(method, reply.response)
        except ProtocolError as exc:
            raise DeviceError("the device's reply to %s was malformed: %s" % (method, exc.message),
                              ErrorCode.BAD_FIELD) from None

    def call(self, method: Method[P, T], params: P, timeout: float = 30.0, request_id: int | None = None) -> T:
        """Call a declared protocol method: its result record, checked once."""
        return checked_result(method, self.request(method.name, params, timeout=timeout, request_id=request_id))

    def _roundtrip(self, request_id: int, frame: bytes, timeout: float) -> Reply:
        pending = _Pending()
        with self._lock:
            if self._closed_reason is not None:
                raise ConnectionLost(self._closed_reason)
            self._pending[request_id] = pending
        try:
            stream = self._stream
            if stream is None:
                raise ConnectionLost("not connected")
            try:
                stream.write(frame)
            except TransportError as exc:
                raise ConnectionLost(str(exc)) from exc
            if not pending.done.wait(timeout):
                raise DeviceError("the device did not answer within %.0f s" % timeout, "timeout")
        finally:
            with self._lock:
                self._pending.pop(request_id, None)
        if pending.reply is None:
            raise ConnectionLost(self._closed_reason or "connection closed")
        return pending.reply

    def _read_loop(self) -> None:
        stream = self._stream
        assert stream is not None
        reason = "the device closed the connection"
        while True:
            data = stream.read(65536)
            if not data:
                break
            for item in self._proto.feed(data):
                if isinstance(item, Event):
                    handler = self.on_event
                    if handler is not None:
                        handler(item)
                elif isinstance(item, Reply):
                    with self._lock:
                        pending = self._pending.get(item.request_id)
                    if pending is not None:
                        pending.reply = item
                        pending.done.set()
                else:
                    self.protocol_errors.append(item.message)
        diagnostics = stream.diagnostics()
        if diagnostics and not self._closing:
            reason = "%s: %s" % (reason, diagnostics.splitlines()[-1])
        self._finish(reason)

    def _finish(self, reason: str) -> None:
        with self._lock:
            if self._closed_reason is not None:
                return
            self._closed_reason = reason
            waiting = list(self._pending.values())
        for pending in waiting:
            pending.done.set()
        if not self._closing and self.on_closed is not None:
            self.on_closed(reason)

    @property
    def closed_reason(self) -> str | None:
        return self._closed_reason

    def close(self) -> None:
        self._closing = True
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(timeout=5)
        self._finish("closed by the console")
