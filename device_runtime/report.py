"""Report per-inference latency from the robot's own process to the edge-runtime daemon.

    from device_runtime.report import LatencyReporter
    r = LatencyReporter(model="detector")
    r.record(latency_s, preprocess=..., infer=..., postprocess=...)

Calls append to a small buffer sent as one unix datagram every 32 records or 50 ms, whichever
comes first (and on ``flush()``/``close()``), non-blocking: it never waits, never raises and
costs about a microsecond whether or not a daemon is listening. When none is, batches are
dropped and counted in ``dropped``, and sending is retried once a second. Only the standard
library is imported. The wire format is in :mod:`device_runtime.latency_wire` so C++ nodes can
report too.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Mapping, Optional

from device_runtime import latency_wire

LATENCY_SOCKET_NAME = "latency.sock"
SYSTEM_LATENCY_SOCKET = "/run/edge-runtime/" + LATENCY_SOCKET_NAME


def default_latency_socket(environ: Optional[Mapping[str, str]] = None) -> str:
    """``$EDGE_RUNTIME_LATENCY_SOCKET``, else the system daemon's, else this user's daemon's."""
    env = os.environ if environ is None else environ
    explicit = env.get("EDGE_RUNTIME_LATENCY_SOCKET")
    if explicit:
        return explicit
    if os.path.exists(SYSTEM_LATENCY_SOCKET):
        return SYSTEM_LATENCY_SOCKET
    base = env.get("XDG_RUNTIME_DIR")
    directory = os.path.join(base, "edge-runtime") if base and os.path.isdir(base) else (
        "/tmp/edge-runtime-%d" % os.getuid())
    return os.path.join(directory, LATENCY_SOCKET_NAME)


MAX_BATCH = 32
FLUSH_INTERVAL_S = 0.05
ABSENT_RETRY_S = 1.0


class LatencyReporter:
    def __init__(self, model: str, socket_path: Optional[str] = None) -> None:
        name = model.encode("utf-8")
        if not 1 <= len(name) <= latency_wire.MAX_NAME:
            raise ValueError("model name must be 1 to %d bytes of UTF-8" % latency_wire.MAX_NAME)
        self.model = model
        self.path = socket_path or default_latency_socket()
        self.sent = 0
        self.dropped = 0
        self._name = name
        self._buf = bytearray()
        self._count = 0
        self._last_flush = 0.0
        self._retry_at = 0.0
        self._closed = False
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._sock.setblocking(False)

    def record(self, latency_s: float, preprocess: Optional[float] = None, infer: Optional[float] = None,
               postprocess: Optional[float] = None) -> None:
        """Record one inference's latency (seconds). Never blocks and never raises."""
        try:
            if self._closed or not 0.0 <= latency_s < 3600.0:  # also false for NaN
                self.dropped += 1
                return
            now = time.time()
            flags = (1 if preprocess is not None else 0) | (2 if infer is not None else 0) | (
                4 if postprocess is not None else 0)
            self._buf += _HEADER.pack(
                b"EOL1", 1, flags, len(self._name), now, latency_s,
                preprocess or 0.0, infer or 0.0, postprocess or 0.0,
            )
            self._buf += self._name
            self._count += 1
            if self._count >= MAX_BATCH or now - self._last_flush >= FLUSH_INTERVAL_S:
                self._send(now)
        except Exception:  # a bad value or a closed reporter: the robot goes on
            self.dropped += 1

    def flush(self) -> None:
        """Send what is buffered now (also done by ``close``)."""
        if self._count:
            self._send(time.time())

    def _send(self, now: float) -> None:
        count, data = self._count, bytes(self._buf)
        self._buf.clear()
        self._count = 0
        self._last_flush = now
        if now < self._retry_at:
            self.dropped += count
            return
        try:
            self._sock.sendto(data, self.path)
            self.sent += count
        except (FileNotFoundError, ConnectionRefusedError):  # no daemon: try again in a while
            self._retry_at = now + ABSENT_RETRY_S
            self.dropped += count
        except OSError:  # the daemon's queue is full: drop, never wait
            self.dropped += count

    def close(self) -> None:
        if not self._closed:
            self.flush()
            self._closed = True
            self._sock.close()

    def __enter__(self) -> LatencyReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_HEADER = latency_wire.HEADER
