"""The last day of alerts (at most ``max_alerts``), so a console that connects or reconnects
back-fills its event panel and chart markers with ``alerts.list``."""

from __future__ import annotations

import collections
from typing import List

from device_runtime.protocol import AlertEvent


class AlertHistory:
    def __init__(self, max_alerts: int = 1000, max_age_s: float = 86400.0) -> None:
        self.max_alerts = max_alerts
        self.max_age_s = max_age_s
        self._alerts: "collections.OrderedDict[str, AlertEvent]" = collections.OrderedDict()  # noqa: UP037 - a string so Python 3.8 never evaluates it

    def record(self, event: AlertEvent, now: float) -> None:
        """Add a started alert or replace it with its ended form (same ``id``)."""
        self._alerts[event.id] = event
        self._prune(now)

    def list(self, since: float = 0.0) -> List[AlertEvent]:
        """Alerts still active or that ended at or after ``since``, oldest start first."""
        found = [a for a in self._alerts.values() if a.end is None or a.end >= since]
        return sorted(found, key=lambda a: a.start)

    def __len__(self) -> int:
        return len(self._alerts)

    def _prune(self, now: float) -> None:
        cutoff = now - self.max_age_s
        for key in [k for k, a in self._alerts.items() if a.end is not None and a.end < cutoff]:
            del self._alerts[key]
        while len(self._alerts) > self.max_alerts:
            ended = next((k for k, a in self._alerts.items() if a.end is not None), None)
            del self._alerts[ended if ended is not None else next(iter(self._alerts))]
