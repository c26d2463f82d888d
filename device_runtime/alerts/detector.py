"""Turns per-sample conditions into alerts with start and end times, debounced by ``hold_s``.

Pure: no I/O, no clock of its own (sample times come in with the values), so tests replay
recorded captures and get the same alerts the daemon would push.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Dict, List, Mapping, Optional

from device_runtime.alerts.rules import Condition, evaluate
from device_runtime.protocol import AlertEvent, AlertThresholds


class _Track:
    __slots__ = ("alert", "cleared_at", "condition", "first_true", "worst")

    def __init__(self, first_true: float, condition: Condition) -> None:
        self.first_true = first_true
        self.cleared_at: Optional[float] = None
        self.condition = condition
        self.alert: Optional[AlertEvent] = None
        self.worst: Optional[float] = None  # the worst value since the condition began holding


class AlertDetector:
    """A condition must hold for ``hold_s`` before its alert starts (its start time is when it
    began holding) and stay clear for ``hold_s`` before it ends (its end time is when it cleared).
    ``labels`` maps metric names to the collectors' labels (zone types), ``trips`` maps
    temperature metrics to their zones' trip points in °C."""

    def __init__(self, thresholds: AlertThresholds, labels: Optional[Mapping[str, str]] = None,
                 trips: Optional[Mapping[str, Mapping[str, float]]] = None) -> None:
        self.thresholds = thresholds
        self._labels: Mapping[str, str] = dict(labels or {})
        self._trips: Mapping[str, Mapping[str, float]] = dict(trips or {})
        self._tracks: Dict[str, _Track] = {}
        self._counters: Dict[str, float] = {}

    def feed(self, t: float, values: Mapping[str, float]) -> List[AlertEvent]:
        """Evaluate one sample; returns the alerts that started (``end`` None) or ended now."""
        hold = self.thresholds.hold_s
        holding = {c.key: c for c in evaluate(values, self.thresholds, self._labels, self._trips, self._counters)}
        changes: List[AlertEvent] = []
        for key, condition in holding.items():
            track = self._tracks.get(key)
            if track is None:
                track = self._tracks[key] = _Track(t, condition)
            track.cleared_at = None
            track.condition = condition
            track.worst = _worse(track.worst, condition)
            if track.alert is None:
                if condition.immediate or t - track.first_true >= hold:
                    track.alert = _alert(condition, track.first_true, track.worst)
                    changes.append(dataclasses.replace(track.alert))
            else:
                track.alert.value = track.worst
        for key in [k for k in self._tracks if k not in holding]:
            track = self._tracks[key]
            if track.alert is None:  # cleared before it held long enough: never an alert
                del self._tracks[key]
                continue
            if track.cleared_at is None:
                track.cleared_at = t
            if t - track.cleared_at >= hold:
                track.alert.end = track.cleared_at
                changes.append(dataclasses.replace(track.alert))
                del self._tracks[key]
        return changes

    def active(self) -> List[AlertEvent]:
        return [dataclasses.replace(tr.alert) for tr in self._tracks.values() if tr.alert is not None]


def _alert(condition: Condition, start: float, worst: Optional[float]) -> AlertEvent:
    return AlertEvent(id=uuid.uuid4().hex[:16], kind=condition.kind, severity=condition.severity,
                      source=condition.source, message=condition.message, start=start, metric=condition.metric,
                      value=worst, threshold=condition.threshold)


def _worse(worst: Optional[float], condition: Condition) -> Optional[float]:
    """An alert's ``value`` is the worst seen while it holds (hottest, highest draw, lowest clock)."""
    new = condition.value
    if new is None or worst is None:
        return worst if new is None else new
    return max(worst, new) if condition.higher_is_worse else min(worst, new)
