"""The daemon's latency service: a unix datagram socket for LatencyReporter, once-a-second
statistics pushed on ``TOPIC_LATENCY``, and ``latency.recent`` for back-fill.

Feeders (the latency probe) hand over their readings at the start of each publish, on the
timer that runs anyway, so they need no wake-up of the daemon of their own. A window is
encoded for the event bus only while a client listens: the history behind
``latency.recent`` and the health check is kept either way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from typing import Callable, Dict, List, Optional, Sequence

from device_runtime import latency_wire
from device_runtime.latency.aggregate import LatencyAggregator
from device_runtime.protocol import TOPIC_LATENCY, LatencyQuery, LatencyWindows, Record
from device_runtime.server.events import EventBus
from device_runtime.server.service import Handler, Service

log = logging.getLogger("edge_runtime.latency")

PUBLISH_PERIOD_S = 1.0
MAX_DATAGRAMS_PER_WAKEUP = 4096


class LatencyService(Service):
    name = "latency"

    def __init__(self, socket_path: str, bus: EventBus, clock: Callable[[], float] = time.time,
                 aggregator: Optional[LatencyAggregator] = None) -> None:
        self.socket_path = socket_path
        self.bus = bus
        self.clock = clock
        self.aggregator = aggregator or LatencyAggregator()
        self.received = 0
        self.malformed = 0
        self._sock: Optional[socket.socket] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._last_error = ""
        self.feeders: List[Callable[[], None]] = []  # called before each publish, on the loop

    def handlers(self) -> Dict[str, Handler]:
        return {"latency.recent": self._recent}

    def _recent(self, params: Record) -> Record:
        assert isinstance(params, LatencyQuery)
        return LatencyWindows(self.aggregator.recent(self.clock(), max(0.0, params.seconds)))

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        try:
            self._sock = self._bind()
        except OSError as exc:  # the daemon serves on without reported latency, and says so
            log.error("cannot open the latency socket %s: %s; reported latency is unavailable",
                      self.socket_path, exc)
        else:
            loop.add_reader(self._sock.fileno(), self._drain)
        self._timer = loop.call_later(PUBLISH_PERIOD_S, self._publish)

    def _bind(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)  # the daemon lock proves no other daemon owns it
        old_umask = os.umask(0o117)
        try:
            sock.bind(self.socket_path)
        finally:
            os.umask(old_umask)
        os.chmod(self.socket_path, 0o660)  # the robot's process writes it through the group
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.setblocking(False)
        return sock

    def _drain(self) -> None:
        assert self._sock is not None
        for _ in range(MAX_DATAGRAMS_PER_WAKEUP):
            try:
                data = self._sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            self.feed(data)

    def feed(self, data: bytes) -> None:
        reports, problem = latency_wire.unpack_all(data)
        if problem is not None:
            self.malformed += 1
            if problem != self._last_error:  # one line per kind of mistake, not per datagram
                self._last_error = problem
                log.warning("ignored a malformed latency record: %s", problem)
        for report in reports:
            self.received += 1
            self.aggregator.add(report.model, report.t, report.stages)

    def add_probe_readings(self, source: str, t: Sequence[float], stages: Dict[str, Sequence[float]]) -> None:
        self.aggregator.add_many(source, t, stages)

    def _publish(self) -> None:
        assert self._loop is not None
        for feed in self.feeders:
            try:
                feed()
            except Exception:  # a broken feeder must not stop the statistics of the others
                log.exception("a latency feeder failed")
        windows = self.aggregator.windows(self.clock())
        if windows and self.bus.subscribers(TOPIC_LATENCY):
            self.bus.publish(TOPIC_LATENCY, LatencyWindows(windows))
        self._timer = self._loop.call_later(PUBLISH_PERIOD_S, self._publish)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._sock is not None:
            if self._loop is not None:
                self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
            try:
                os.unlink(self.socket_path)
            except OSError:
                pass
