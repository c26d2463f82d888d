"""Alerts on the console, without Qt: a bounded log of a device's alerts and the feed that
fills it (back-fill with ``alerts.list``, then live ``TOPIC_ALERT`` events).

An alert arrives twice, when it starts and when it ends, with the same ``id``; the log keeps
one entry per id and an ended alert never reopens, whatever order the back-fill reply and the
live events arrive in.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from console.core.devices.client import DeviceError
from console.core.devices.session import DeviceSession, Subscription
from device_runtime.protocol import (
    ALERTS_LIST,
    SEVERITY_CRITICAL,
    SEVERITY_WARNING,
    TOPIC_ALERT,
    AlertEvent,
    AlertQuery,
    ErrorCode,
    Event,
    ProtocolError,
)

KIND_LABELS = {
    "thermal_throttle": "Thermal throttling",
    "power_cap": "Power cap",
    "clocks_below_max": "Clocks below max",
    "temperature": "Temperature",
}
SEVERITY_LABELS = {SEVERITY_WARNING: "Warning", SEVERITY_CRITICAL: "Critical"}
MAX_ALERTS = 2000

AlertListener = Callable[[AlertEvent], None]


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())


def severity_label(severity: str) -> str:
    return SEVERITY_LABELS.get(severity, severity.capitalize())


class AlertLog:
    """One entry per alert id, bounded: past ``limit`` the oldest ended alerts are dropped."""

    def __init__(self, limit: int = MAX_ALERTS) -> None:
        self.limit = limit
        self._alerts: dict[str, AlertEvent] = {}
        self._lock = threading.Lock()

    def merge(self, alert: AlertEvent) -> AlertEvent | None:
        """Take a start or end message; returns the stored record, or None if nothing changed."""
        with self._lock:
            known = self._alerts.get(alert.id)
            merged = alert
            if known is not None:
                if known.end is not None and alert.end is None:
                    merged = AlertEvent.from_wire({**alert.to_wire(), "end": known.end})
                if merged == known:
                    return None
            self._alerts[alert.id] = merged
            if len(self._alerts) > self.limit:
                self._trim()
            return merged

    def _trim(self) -> None:
        ended = sorted((a for a in self._alerts.values() if a.end is not None), key=lambda a: a.start)
        for alert in ended[: len(self._alerts) - self.limit]:
            del self._alerts[alert.id]

    def alerts(self) -> list[AlertEvent]:
        """Every alert, oldest start first."""
        with self._lock:
            return sorted(self._alerts.values(), key=lambda a: (a.start, a.id))

    def ongoing(self) -> list[AlertEvent]:
        return [a for a in self.alerts() if a.end is None]

    def between(self, start: float, end: float) -> list[AlertEvent]:
        """Alerts that overlap [start, end] (an ongoing one lasts until now)."""
        return [a for a in self.alerts() if a.start <= end and (a.end is None or a.end >= start)]

    def __len__(self) -> int:
        return len(self._alerts)


class AlertsUnavailable(DeviceError):
    """The device's runtime has no alert service (an older runtime)."""


class AlertFeed:
    """Keeps an :class:`AlertLog` in step with one device session.

    ``attach`` once; ``start`` after every (re)connect, on a thread that may block. Listeners
    run on the connection's reader thread or on the caller of ``start``.
    """

    def __init__(self, session: DeviceSession, log: AlertLog | None = None) -> None:
        self.session = session
        self.log = log or AlertLog()
        self.listeners: list[AlertListener] = []
        self.rejected = 0  # alert events that could not be read (a newer runtime's fields)
        self._follow: Subscription | None = None

    def attach(self) -> None:
        if self._follow is None:
            self._follow = self.session.follow([TOPIC_ALERT], self._on_event)

    def detach(self) -> None:
        follow, self._follow = self._follow, None
        if follow is not None:
            follow.close()

    def start(self, since: float = 0.0, timeout: float = 30.0) -> int:
        """Subscribe, then back-fill; returns how many alerts the back-fill brought.

        Subscribing first means an alert that starts or ends meanwhile is not lost; the log
        merges the overlap. Raises :class:`AlertsUnavailable` for a runtime without alerts.
        """
        self.attach()
        try:
            self.session.subscribe_events([TOPIC_ALERT])
            reply = self.session.call(ALERTS_LIST, AlertQuery(since), timeout=timeout)
        except DeviceError as exc:
            if exc.code == ErrorCode.UNKNOWN_METHOD:
                raise AlertsUnavailable(
                    "%s's runtime does not report alerts (%s). Update edge-runtime on the device."
                    % (self.session.entry.display_name, str(exc).rstrip(".")), exc.code) from None
            raise
        for alert in reply.alerts:
            self._take(alert)
        return len(reply.alerts)

    def _on_event(self, event: Event) -> None:
        try:
            alert = AlertEvent.from_wire(event.data)
        except ProtocolError:
            self.rejected += 1
            return
        self._take(alert)

    def _take(self, alert: AlertEvent) -> None:
        stored = self.log.merge(alert)
        if stored is not None:
            for listener in list(self.listeners):
                listener(stored)
