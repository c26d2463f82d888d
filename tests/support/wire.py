"""A tiny blocking protocol client for daemon tests (raw socket, no console code)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from device_runtime import protocol as p


class RawClient:
    def __init__(self, socket_path: Path, timeout: float = 10.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # Connect blocking, as the bridge does: with a timeout set, a unix connect to a full
        # listen backlog fails at once (EAGAIN) instead of waiting for the daemon to accept.
        self.sock.connect(str(socket_path))
        self.sock.settimeout(timeout)
        self.decoder = p.FrameDecoder()
        self.inbox: list[p.AnyMessage] = []
        self.next_id = 100

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, message: p.Message) -> None:
        self.sock.sendall(p.encode(message))

    def recv(self) -> p.AnyMessage:
        while not self.inbox:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("daemon closed the connection")
            for item in self.decoder.feed(data):
                assert isinstance(item, bytes)
                self.inbox.append(p.decode(item))
        return self.inbox.pop(0)

    def recv_until(self, predicate: Any) -> p.AnyMessage:
        while True:
            message = self.recv()
            if predicate(message):
                return message

    def handshake(self) -> p.Welcome:
        self.send(p.Hello(1, p.PROTOCOL_VERSION, "test"))
        welcome = self.recv()
        assert isinstance(welcome, p.Welcome), welcome
        return welcome

    def call(self, method: str, params: dict[str, Any] | None = None) -> p.AnyMessage:
        self.next_id += 1
        request_id = self.next_id
        self.send(p.Request(request_id, method, params or {}))
        return self.recv_until(lambda m: isinstance(m, (p.Response, p.ErrorReply)) and m.id == request_id)

    def close(self) -> None:
        self.sock.close()
