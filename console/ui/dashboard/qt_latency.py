"""The Qt face of a device's inference latency: the core :class:`LatencyFeed` as Qt signals, the
probe's controls run on the device's worker thread, and the user's budget for this device."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from console.core.devices.client import DeviceError
from console.core.telemetry.latency import BudgetBook, LatencyError, LatencyFeed, LatencyStore, check_budget, set_probe
from console.transport.base import TransportError
from console.ui.devices.qt_session import QtSession
from console.ui.qt_adapter import QtFeedAdapter
from device_runtime.protocol import STORE_MODELS, Empty, ProbeStatus


class QtLatency(QtFeedAdapter):
    windowsArrived = Signal()  # new windows are in the store
    probeChanged = Signal(object)  # ProbeStatus
    probeRefused = Signal(str)  # the device's words for a refused probe setting
    modelsLoaded = Signal(list)  # names of the stored models with an active version
    budgetChanged = Signal()

    def __init__(self, model: QtSession, budgets: BudgetBook | None = None, parent: QObject | None = None) -> None:
        super().__init__(model, parent)
        self.budgets = budgets
        self.feed = LatencyFeed(model.session)
        self.feed.window_listeners.append(lambda _w: self.windowsArrived.emit())
        self.feed.probe_listeners.append(self.probeChanged.emit)
        self.feed.attach()
        self._budget = budgets.get(model.name) if budgets is not None else model.session.entry.latency_budget_ms
        self._follow_connection()

    @property
    def store(self) -> LatencyStore:
        return self.feed.store

    @property
    def probe(self) -> ProbeStatus | None:
        return self.feed.probe

    @property
    def budget_ms(self) -> float | None:
        return self._budget

    @property
    def device_budget_ms(self) -> float | None:
        return self.feed.device_budget_ms

    def set_budget(self, value: float | None) -> None:
        """Raises LatencyError for a value that is not a positive number of ms."""
        self._budget = check_budget(value)
        if self.budgets is not None:
            self.budgets.set(self.model.name, self._budget)
        self.budgetChanged.emit()

    def set_probe(self, name: str | None, rate_hz: float, shapes: dict[str, list[int]]) -> None:
        self.model.run_blocking(lambda: self._set_probe_job(name, rate_hz, shapes))

    def close(self) -> None:
        self.feed.detach()

    # -- worker thread -----------------------------------------------------------------------
    def _start_job(self) -> None:
        try:
            self.feed.start()
            models = self.model.session.call(STORE_MODELS, Empty())
        except (DeviceError, TransportError, OSError) as exc:
            self._set_notice("Latency from %s could not be loaded: %s." % (self.model.display_name,
                                                                          str(exc).rstrip(".")))
            return
        self.modelsLoaded.emit([m.name for m in models.models if m.active])
        self._set_notice("")
        self.budgetChanged.emit()  # the device's own budget may have arrived
        self.windowsArrived.emit()

    def _set_probe_job(self, name: str | None, rate_hz: float, shapes: dict[str, list[int]]) -> None:
        try:
            self.feed.take_probe(set_probe(self.model.session, name, rate_hz, shapes))
        except (DeviceError, LatencyError) as exc:
            self.probeRefused.emit(str(exc))
