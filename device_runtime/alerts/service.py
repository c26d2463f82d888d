"""The daemon's alert service: runs the detector on every sample, publishes starts and ends on
the ``alert`` topic, keeps the history for back-fill and serves the per-device thresholds."""

from __future__ import annotations

import logging
import time
from typing import Callable, Dict, Mapping, Sequence, Tuple

from device_runtime.alerts.detector import AlertDetector
from device_runtime.alerts.history import AlertHistory
from device_runtime.alerts.thresholds import ThresholdStore, check
from device_runtime.collectors.base import Collector
from device_runtime.collectors.thermal import ThermalCollector
from device_runtime.protocol import TOPIC_ALERT, AlertList, AlertQuery, AlertThresholds, Record
from device_runtime.server.events import EventBus
from device_runtime.server.service import Handler, Service

log = logging.getLogger("edge_runtime.alerts")


def collector_context(collectors: Sequence[Collector]) -> Tuple[Dict[str, str], Dict[str, Dict[str, float]]]:
    """Metric labels (zone types, rail names) and thermal trip points the rules need."""
    labels: Dict[str, str] = {}
    trips: Dict[str, Dict[str, float]] = {}
    for collector in collectors:
        labels.update({spec.name: spec.label for spec in collector.metrics()})
        if isinstance(collector, ThermalCollector):
            trips.update(collector.trips())
    return labels, trips


class AlertService(Service):
    name = "alerts"

    def __init__(self, bus: EventBus, root: str, collectors: Sequence[Collector],
                 clock: Callable[[], float] = time.time, max_alerts: int = 1000, max_age_s: float = 86400.0) -> None:
        self.bus = bus
        self.store = ThresholdStore(root)
        self._clock = clock
        labels, trips = collector_context(collectors)
        self.detector = AlertDetector(self.store.load(), labels, trips)
        self.history = AlertHistory(max_alerts, max_age_s)

    def handlers(self) -> Dict[str, Handler]:
        return {
            "alerts.list": self._list,
            "alerts.thresholds.get": self._get,
            "alerts.thresholds.set": self._set,
        }

    def on_sample(self, t: float, values: Mapping[str, float]) -> None:
        for event in self.detector.feed(t, values):
            self.history.record(event, t)
            log.info("alert %s %s (%s): %s", "ended" if event.end is not None else "started", event.kind,
                     event.source, event.message)
            self.bus.publish(TOPIC_ALERT, event)

    def _list(self, params: Record) -> Record:
        assert isinstance(params, AlertQuery)
        return AlertList(self.history.list(params.since))

    def _get(self, _: Record) -> Record:
        return self.detector.thresholds

    def _set(self, params: Record) -> Record:
        assert isinstance(params, AlertThresholds)
        check(params)  # a refused set changes nothing, in memory or on disk
        self.store.save(params)
        self.detector.thresholds = params
        log.info("alert thresholds changed: %s", params.to_wire())
        return params
