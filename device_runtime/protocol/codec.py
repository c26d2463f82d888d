"""The codec: frames to typed messages and back, and request params and results to records."""

from __future__ import annotations

import json
from typing import Any, Iterator, Union

from device_runtime.protocol.core import MAX_FRAME_BYTES, METHODS, ErrorCode, ProtocolError, Record
from device_runtime.protocol.messages import _MESSAGES, AnyMessage, Message, Request, Response


def parse_params(request: Request) -> Record:
    """Validate a request's params against its method; raises :class:`ProtocolError`."""
    entry = METHODS.get(request.method)
    if entry is None:
        raise ProtocolError(ErrorCode.UNKNOWN_METHOD, "unknown method %r" % request.method, request.id)
    try:
        return entry[0].from_wire(request.params)
    except ProtocolError as exc:
        exc.request_id = request.id
        raise


def parse_result(method: str, response: Response) -> Record:
    return METHODS[method][1].from_wire(response.result)


# ---------------------------------------------------------------------------------------------
# Codec


def encode(message: Message) -> bytes:
    """One frame: compact JSON, UTF-8, newline-terminated."""
    payload = message.to_wire()
    payload["type"] = message.TYPE
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n"
    # Text the decoder now refuses may still sit in records stored before it did: it goes out
    # with "?" in place of each lone surrogate rather than failing every reply that carries it.
    return text.encode("utf-8", "replace")


def _reject_constant(name: str) -> Any:
    raise ValueError("%s is not allowed" % name)


def decode(frame: bytes) -> AnyMessage:
    """Parse one frame (without or with its newline) into a typed message."""
    if len(frame) > MAX_FRAME_BYTES:
        raise ProtocolError(ErrorCode.FRAME_TOO_LARGE, "frame of %d bytes is over the limit" % len(frame))
    try:
        data = json.loads(frame.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(ErrorCode.BAD_FRAME, "frame is not valid JSON: %s" % str(exc)[:200]) from None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.BAD_FRAME, "frame must be a JSON object")
    request_id = data.get("id") if isinstance(data.get("id"), int) else None
    kind = data.pop("type", None)
    if not isinstance(kind, str):
        raise ProtocolError(ErrorCode.BAD_FRAME, "frame has no 'type'", request_id)
    cls = _MESSAGES.get(kind)
    if cls is None:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, "unknown message type %r" % kind[:64], request_id)
    try:
        return cls.from_wire(data)  # type: ignore[return-value]
    except ProtocolError as exc:
        exc.request_id = request_id
        raise


class FrameDecoder:
    """Splits a byte stream into frames, bounded in memory.

    ``feed`` returns complete frames and :class:`ProtocolError` for each frame over
    ``max_frame`` bytes; the bytes of an oversized frame are skipped as they arrive, never
    buffered, so a 1 GiB frame costs no more memory than a 1 MiB one.
    """

    def __init__(self, max_frame: int = MAX_FRAME_BYTES) -> None:
        self.max_frame = max_frame
        self._buffer = bytearray()
        self._discarding = False
        self._discarded = 0

    def feed(self, data: bytes) -> Iterator[Union[bytes, ProtocolError]]:
        start = 0
        while start < len(data):
            newline = data.find(b"\n", start)
            end = len(data) if newline < 0 else newline
            chunk_len = end - start
            if self._discarding:
                self._discarded += chunk_len
            elif len(self._buffer) + chunk_len > self.max_frame:
                self._discarding = True
                self._discarded = len(self._buffer) + chunk_len
                self._buffer = bytearray()
            else:
                self._buffer += data[start:end]
            if newline < 0:
                return
            start = newline + 1
            if self._discarding:
                size = self._discarded
                self._discarding = False
                self._discarded = 0
                yield ProtocolError(
                    ErrorCode.FRAME_TOO_LARGE,
                    "frame of %d bytes refused (limit %d bytes)" % (size, self.max_frame),
                )
            elif self._buffer.strip():
                frame = bytes(self._buffer)
                self._buffer = bytearray()
                yield frame
            else:
                self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held for an incomplete frame (0 while discarding)."""
        return len(self._buffer)
