"""Topic subscriptions for pushed events (alerts, jobs, job logs).

Publishers may run on any thread (jobs run in workers); frames are always written on the
daemon's event loop. Telemetry samples do not pass through here: they have their own
rate-controlled stream in :mod:`device_runtime.server.telemetry`.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Callable, Dict, Iterable, Optional, Set

from device_runtime.protocol import EVENT_TOPICS, ErrorCode, Event, ProtocolError, Record, encode

Sink = Callable[[bytes], None]


class EventBus:
    def __init__(self) -> None:
        self._subs: Dict[int, Set[str]] = {}
        self._sinks: Dict[int, Sink] = {}
        self._lock = threading.Lock()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._loop_thread: Optional[int] = None

    def attach_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver on ``loop``: publishes from other threads are handed over to it."""
        self._loop = loop
        self._loop_thread = threading.get_ident()

    def subscribe(self, key: int, topics: Iterable[str], sink: Sink) -> None:
        wanted = set(topics)
        unknown = sorted(wanted - set(EVENT_TOPICS))
        if unknown:
            raise ProtocolError(
                ErrorCode.BAD_FIELD,
                "unknown event topic(s) %s; known: %s" % (", ".join(unknown), ", ".join(EVENT_TOPICS)),
            )
        with self._lock:
            self._subs.setdefault(key, set()).update(wanted)
            self._sinks[key] = sink

    def unsubscribe(self, key: int, topics: Optional[Iterable[str]] = None) -> None:
        with self._lock:
            if topics is None:
                self._subs.pop(key, None)
                self._sinks.pop(key, None)
                return
            current = self._subs.get(key)
            if current is not None:
                current.difference_update(topics)

    def subscribers(self, topic: str) -> int:
        with self._lock:
            return sum(1 for topics in self._subs.values() if topic in topics)

    def publish(self, topic: str, record: Record) -> None:
        """Send ``record`` to every client subscribed to ``topic``. Thread-safe."""
        frame = encode(Event(topic, record.to_wire()))
        loop = self._loop
        if loop is not None and threading.get_ident() != self._loop_thread:
            try:
                loop.call_soon_threadsafe(self._deliver, topic, frame)
            except RuntimeError:  # loop closed: the daemon is shutting down
                pass
            return
        self._deliver(topic, frame)

    def _deliver(self, topic: str, frame: bytes) -> None:
        with self._lock:
            sinks = [self._sinks[key] for key, topics in self._subs.items() if topic in topics]
        for sink in sinks:
            sink(frame)
