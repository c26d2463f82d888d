"""A TCP proxy on 127.0.0.1 that delays every byte by a latency with jitter: a long, uneven link.

This machine's kernel has no ``netem``, so the delay is made here. Each direction is a delay
line: what is read at time t is written at ``t + latency + U(0, jitter)``, but never before what
was read earlier (a TCP stream cannot reorder), so the added delay varies between ``latency`` and
``latency + jitter`` while bytes keep their order.
"""

from __future__ import annotations

import queue
import random
import select
import socket
import threading
import time

_CLOSE = b""


class DelayProxy:
    def __init__(self, target: tuple[str, int], latency_s: float, jitter_s: float, seed: int = 0) -> None:
        self.target = target
        self.latency_s = latency_s
        self.jitter_s = jitter_s
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._spawn(self._accept, "delay-accept")

    def _spawn(self, target: object, name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _delay(self) -> float:
        with self._rng_lock:
            return self.latency_s + self._rng.uniform(0.0, self.jitter_s)

    def _accept(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.listener], [], [], 0.2)
            if not ready:
                continue
            try:
                client, _ = self.listener.accept()
                upstream = socket.create_connection(self.target)
            except OSError:
                return
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sockets += [client, upstream]
            for src, dst, name in ((client, upstream, "up"), (upstream, client, "down")):
                line: queue.Queue[tuple[float, bytes]] = queue.Queue()
                self._spawn(self._read, "delay-read-" + name, src, line)
                self._spawn(self._write, "delay-write-" + name, dst, line)

    def _read(self, src: socket.socket, line: queue.Queue[tuple[float, bytes]]) -> None:
        due = 0.0
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = _CLOSE
            due = max(due, time.monotonic() + self._delay())
            line.put((due, data))
            if not data:
                return

    def _write(self, dst: socket.socket, line: queue.Queue[tuple[float, bytes]]) -> None:
        while True:
            due, data = line.get()
            wait = due - time.monotonic()
            if wait > 0 and self._stop.wait(wait):  # the delay itself, not a wait for readiness
                return
            try:
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                dst.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self._threads[0].join(timeout=5)  # the accept loop sees the stop within 0.2 s
        for sock in [self.listener, *self._sockets]:
            try:
                if sock is not self.listener:
                    sock.shutdown(socket.SHUT_RDWR)  # wakes a reader blocked in recv
            except OSError:
                pass
            sock.close()
        for thread in self._threads:
            thread.join(timeout=5)
