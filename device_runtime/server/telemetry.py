"""The telemetry hub: samples every collector at the highest rate anyone asked for, keeps a
bounded history for back-fill, and hands each subscriber the samples due at its own rate."""

from __future__ import annotations

import collections
import time
from typing import Callable, Deque, Dict, List, Optional, Sequence, Tuple

from device_runtime.collectors.base import Collector
from device_runtime.protocol import (
    DEFAULT_RATE_HZ,
    MAX_RATE_HZ,
    MIN_RATE_HZ,
    TOPIC_SAMPLE,
    Event,
    MetricSpec,
    encode,
)

Sink = Callable[[bytes], None]


def clamp_rate(rate_hz: float) -> float:
    return max(MIN_RATE_HZ, min(MAX_RATE_HZ, float(rate_hz)))


class _Subscriber:
    __slots__ = ("next_due", "period", "sink")

    def __init__(self, sink: Sink, rate_hz: float) -> None:
        self.sink = sink
        self.period = 1.0 / rate_hz
        self.next_due = 0.0


class TelemetryHub:
    """No I/O of its own: the daemon calls :meth:`tick` on a timer and subscribers get
    encoded frames through their sinks."""

    def __init__(
        self,
        collectors: Sequence[Collector],
        base_rate_hz: float = DEFAULT_RATE_HZ,
        history_s: float = 900.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.collectors = list(collectors)
        self.base_rate_hz = clamp_rate(base_rate_hz)
        self._clock = clock
        self._subscribers: Dict[int, _Subscriber] = {}
        # Called with (t, values) for every sample taken: alert detection and the like.
        self.sample_listeners: List[Callable[[float, Dict[str, float]], None]] = []
        self._seq = 0
        self._metrics: List[MetricSpec] = []
        for collector in self.collectors:
            self._metrics.extend(collector.metrics())
        # History holds encoded frames with their time: compact and ready to resend.
        self._history_s = history_s
        self._history: Deque[Tuple[float, bytes]] = collections.deque(
            maxlen=int(history_s * MAX_RATE_HZ) + 1
        )

    @property
    def metrics(self) -> List[MetricSpec]:
        return list(self._metrics)

    @property
    def rate_hz(self) -> float:
        """The sampling rate: the fastest subscriber's, never below the base rate."""
        rates = [1.0 / s.period for s in self._subscribers.values()]
        return max([self.base_rate_hz, *rates])

    def subscribe(self, key: int, sink: Sink, rate_hz: float, backfill_s: float = 0.0) -> float:
        rate = clamp_rate(rate_hz)
        self._subscribers[key] = _Subscriber(sink, rate)
        if backfill_s > 0:
            cutoff = self._clock() - backfill_s
            for t, frame in list(self._history):
                if t >= cutoff:
                    sink(frame)
        return rate

    def unsubscribe(self, key: int) -> None:
        self._subscribers.pop(key, None)

    def sample(self) -> Tuple[float, Dict[str, float]]:
        values: Dict[str, float] = {}
        for collector in self.collectors:
            try:
                values.update(collector.collect())
            except Exception:  # a failing collector must not stop the others
                continue
        return self._clock(), values

    def tick(self, now_mono: float) -> Optional[bytes]:
        """Take one sample and deliver it to every subscriber that is due."""
        t, values = self.sample()
        self._seq += 1
        frame = encode(Event(TOPIC_SAMPLE, {"t": t, "seq": self._seq, "values": values}))
        self._history.append((t, frame))
        for listener in list(self.sample_listeners):
            try:
                listener(t, values)
            except Exception:  # a listener bug must not stop sampling
                continue
        cutoff = t - self._history_s
        while self._history and self._history[0][0] < cutoff:
            self._history.popleft()
        for sub in list(self._subscribers.values()):
            # Allow a little slack so a 10 Hz subscriber is not skipped by timer jitter.
            if now_mono + 0.2 * sub.period >= sub.next_due:
                sub.next_due = max(sub.next_due + sub.period, now_mono)
                sub.sink(frame)
        return frame

    def close(self) -> None:
        for collector in self.collectors:
            try:
                collector.close()
            except Exception:
                continue
