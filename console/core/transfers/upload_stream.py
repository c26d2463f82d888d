"""Sending bytes into a device's store ``incoming/`` while hashing them: one pass over the file.

A device of protocol 3 or newer takes an upload named by the sender and gets its sha256 at the
end (``digest_at_end``): the console hashes every block as it reads and sends it (on a thread of
its own, beside the sending), and the device hashes the blocks as they land. Older devices name
an upload by its sha256, which is then computed first. The bytes come from a file or from a
package made as it is read (:class:`console.core.models.packages.PackageStream`), and go the cheapest
way the session's transport offers (:meth:`console.transport.base.Transport.direct_sink`): straight
into the partial file on this computer's own device, over the SSH login's SFTP (pipelined writes),
or in protocol chunks where neither may write it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from console.transport.base import DirectSink, TransportError
from console.transport.file_sink import FileSink, StreamChanged
from device_runtime.package_format.hashing import BackgroundSha256
from device_runtime.protocol import (
    DIGEST_AT_END_PROTOCOL_VERSION,
    STORE_INCOMING_REMOVE,
    STORE_UPLOAD_BEGIN,
    STORE_UPLOAD_CHUNK,
    STORE_UPLOAD_CHUNK_METHOD,
    STORE_UPLOAD_FINISH,
    ErrorCode,
    Method,
    StoreActionRef,
    StoreUploadBegin,
    StoreUploadChunk,
    StoreUploadFinish,
    StoreUploadState,
)

if TYPE_CHECKING:
    from console.core.devices.session import DeviceSession

READ_SIZE = 1 << 20
Sent = Callable[[int], None]  # how many bytes of the stream the device holds now


class ByteStream(Protocol):
    """Bytes to upload: their size is known before the first is read."""

    name: str
    size: int

    def blocks(self) -> Iterator[bytes]:
        """Every byte from the start, in order, in blocks no one changes afterwards."""
        ...


class FileStream:
    """A file on this computer, read front to back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name
        info = path.stat()
        self.size = info.st_size
        self.identity = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)

    def blocks(self) -> Iterator[bytes]:
        left = self.size
        with open(self.path, "rb", buffering=0) as handle:
            while left > 0:
                block = handle.read(min(READ_SIZE, left))
                if not block:
                    raise StreamChanged("%s became shorter while it was sent" % self.path)
                left -= len(block)
                yield block

    def upload_name(self) -> str:
        """A name for its upload that a later push of the same, unchanged file from this computer
        finds again (so it resumes what arrived), and no other file shares."""
        key = "edgectl upload\0%s\0%s\0%r" % (socket.gethostname(), self.path.resolve(), self.identity)
        return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def stream_sha256(stream: ByteStream) -> str:
    digest = hashlib.sha256()
    for block in stream.blocks():
        digest.update(block)
    return digest.hexdigest()


Sink = DirectSink  # a way into the device's partial file: the transport's, or protocol chunks


class ChunkSink:
    """Protocol chunks (base64), each at the offset the device last said it holds."""

    def __init__(self, session: DeviceSession, upload_id: str, offset: int,
                 method: Method[StoreUploadChunk, StoreUploadState] = STORE_UPLOAD_CHUNK_METHOD) -> None:
        self.session = session
        self.upload_id = upload_id
        self.offset = offset
        self.method = method
        self._pending = bytearray()

    def write(self, data: bytes | memoryview) -> None:
        self._pending += data
        while len(self._pending) >= STORE_UPLOAD_CHUNK:
            self._send(STORE_UPLOAD_CHUNK)

    def _send(self, count: int) -> None:
        chunk = bytes(self._pending[:count])
        del self._pending[:count]
        reply = self.session.call(self.method, StoreUploadChunk(self.upload_id, self.offset,
                                                                base64.b64encode(chunk).decode("ascii")),
                                  timeout=120)
        if reply.offset != self.offset + len(chunk):
            raise TransportError("the device holds %d bytes where %d were sent" % (reply.offset,
                                                                                   self.offset + len(chunk)))
        self.offset = reply.offset

    def close(self) -> None:
        if self._pending:
            self._send(len(self._pending))

    def alive(self) -> bool:
        return True  # a failed request says itself what went wrong

    def abandon(self) -> None:
        self._pending.clear()


def send(stream: ByteStream, sink: Sink, offset: int, sent: Sent | None = None, hashing: bool = True) -> str:
    """Send ``stream[offset:]`` through ``sink`` and return the sha256 of the whole stream (the
    bytes before ``offset``, which the device holds, are read and hashed, not sent); "" when not
    ``hashing`` (the device was told the sha256 already)."""
    hasher = BackgroundSha256() if hashing else None
    position = 0
    try:
        for block in stream.blocks():
            end = position + len(block)
            if hasher is not None:
                hasher.update(block)
            elif end <= offset:
                position = end
                continue
            if end > offset:
                sink.write(block if position >= offset else memoryview(block)[offset - position:])
                if sent is not None:
                    sent(end)
            position = end
        sink.close()
        if position != stream.size:
            raise StreamChanged("%s is %d bytes, not the %d announced: it changed while it was sent"
                                % (stream.name, position, stream.size))
    except BaseException:
        sink.abandon()
        if hasher is not None:
            hasher.close()
        raise
    return hasher.hexdigest() if hasher is not None else ""


def digest_at_end(session: DeviceSession) -> bool:
    """Whether the connected device takes an upload's sha256 at its end (protocol 3): its
    welcome, on the session's live connection, says which protocol it speaks."""
    conn = session._conn  # the handshake's reply lives on the connection
    return conn is not None and conn.welcome is not None and conn.welcome.protocol >= DIGEST_AT_END_PROTOCOL_VERSION


def direct_sink(session: DeviceSession, part: str | None, offset: int) -> Sink | None:
    """A way into the device's partial file itself, as the session's transport offers one (this
    computer's own device writes it, an SSH device takes it over SFTP); None when there is none
    (then the bytes go in protocol chunks)."""
    if not part:
        return None
    return session.transport.direct_sink(part, offset)


def begin(session: DeviceSession, stream: ByteStream, name: str | None, stage: bool,
          sha256: str | None = None) -> StoreUploadState:
    """``store.upload.begin``: by the sha256 when it is given, else (protocol 3) by ``name``."""
    if sha256 is not None:
        params = StoreUploadBegin(sha256, stream.size, stream.name, stage=stage)
    else:
        params = StoreUploadBegin(name or secrets.token_hex(32), stream.size, stream.name, stage=stage,
                                  digest_at_end=True)
    return session.call(STORE_UPLOAD_BEGIN, params, timeout=60)


def finish(session: DeviceSession, upload_id: str, sha256: str | None, timeout: float) -> str:
    """``store.upload.finish``; the device's path of the verified file."""
    from console.core.devices.client import DeviceError

    done = session.call(STORE_UPLOAD_FINISH, StoreUploadFinish(upload_id, sha256), timeout=timeout)
    if not done.path:
        raise DeviceError("%s took the upload %s but did not say where it keeps it; update edge-runtime on the device"
                          % (session.name, upload_id), ErrorCode.BAD_FIELD)
    return done.path


def upload(session: DeviceSession, stream: ByteStream, stage: bool = True, sent: Sent | None = None,
           started: Callable[[int], None] | None = None, known_sha256: str | None = None,
           name: str | None = None, finish_timeout: float = 300.0) -> tuple[str, str]:
    """Put ``stream`` into the device's incoming/ (resuming what it holds); returns the device's
    path and the sha256. ``started`` hears the offset the device resumes from. A device older
    than protocol 3 needs the sha256 first: it is computed before anything is sent."""
    at_end = known_sha256 is None and digest_at_end(session)
    sha256 = known_sha256 if known_sha256 is not None or at_end else stream_sha256(stream)
    state = begin(session, stream, name, stage, sha256)
    if started is not None:
        started(state.offset)
    if state.offset < stream.size:
        try:
            got = send_rest(session, stream, state, stage, at_end, sent)
        except BaseException:
            if at_end and name is None:
                _forget(session, state.id)  # named at random: nobody could resume it
            raise
        sha256 = got if at_end else sha256
    elif sha256 is None:
        sha256 = stream_sha256(stream)  # all of it arrived before, unfinished: only the sha256 is missing
    assert sha256 is not None
    return finish(session, state.id, sha256 if at_end else None, finish_timeout), sha256


def _forget(session: DeviceSession, upload_id: str) -> None:
    """Take a partial upload that can never be finished out of the device's incoming/, when the
    link still carries the request (otherwise the device's janitor removes it in time)."""
    from console.core.devices.client import DeviceError

    try:
        session.call(STORE_INCOMING_REMOVE, StoreActionRef(upload_id), timeout=30)
    except (DeviceError, TransportError, OSError):
        return


def send_rest(session: DeviceSession, stream: ByteStream, state: StoreUploadState, stage: bool, at_end: bool,
              sent: Sent | None) -> str:
    """Send what the device lacks, into its partial file where possible, else in chunks; the
    sha256 of the whole stream when ``at_end`` ("" otherwise)."""
    sink = direct_sink(session, state.part, state.offset)
    if sink is not None and not at_end and isinstance(sink, FileSink) and isinstance(stream, FileStream):
        try:
            sink.copy_from(stream.path, state.offset, stream.size, sent)  # its sha256 is known: nothing to read
        finally:
            sink.abandon()
        return ""
    if sink is not None:
        try:
            return send(stream, sink, state.offset, sent, at_end)
        except (OSError, TransportError):
            if not sink.alive():
                raise
        # the partial file could not be written that way (permissions, no SFTP): chunks go on
        again = StoreUploadBegin(state.id, stream.size, stream.name, stage=stage, digest_at_end=at_end)
        state = session.call(STORE_UPLOAD_BEGIN, again, timeout=60)
    return send(stream, ChunkSink(session, state.id, state.offset), state.offset, sent, at_end)
