"""The Qt face of a :class:`DeviceSession`.

The core calls its listeners on the connection's reader thread; this adapter re-emits them as
Qt signals, which Qt queues onto the GUI thread. Blocking calls (handshake, subscribe) run on
one worker thread (:class:`~console.ui.qt_adapter.QtAdapter`'s) so the GUI never waits on the
network.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import Future

from PySide6.QtCore import QObject, Signal

from console.core.devices.client import DeviceError
from console.core.devices.session import DeviceSession, Outage, State, outage_text
from console.core.telemetry.metrics import TelemetryStore
from console.transport.base import TransportError
from console.ui.qt_adapter import QtAdapter
from device_runtime.protocol import Capabilities

CONNECT_TIMEOUT_S = 20.0


def plain_error(device: str, exc: BaseException) -> str:
    """One sentence for people, never a traceback."""
    text = str(exc).strip() or type(exc).__name__
    return "Cannot reach %s: %s." % (device, text.rstrip("."))


class QtSession(QtAdapter):
    """Connection state, capabilities and live telemetry of one device, as Qt signals; ``failed``
    says in a sentence why a request did not go through."""

    stateChanged = Signal(str, str)  # State value, message
    tableChanged = Signal(list)  # list[MetricSpec]
    sampleArrived = Signal(float)  # device time of the newest sample
    rateChanged = Signal(float)
    noticed = Signal(str)  # a sentence about the device for the status bar (not an error)
    outageChanged = Signal(object)  # Outage: the link was lost, or came back (its end set)

    failures = (DeviceError, TransportError, OSError)  # what ``failed`` reports: "Cannot reach robot1: ..."

    def __init__(self, session: DeviceSession, rate_hz: float | None = None,
                 backfill_s: float = 0.0, parent: QObject | None = None) -> None:
        super().__init__("session-%s" % session.name, parent=parent)
        self.session = session
        self.backfill_s = backfill_s
        self._wanted_rate = rate_hz if rate_hz is not None else session.rate_hz
        self._listeners_on = False

    # -- what views read ---------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.session.name

    @property
    def display_name(self) -> str:
        return self.session.entry.display_name

    @property
    def state(self) -> State:
        return self.session.state

    @property
    def message(self) -> str:
        return self.session.message

    @property
    def capabilities(self) -> Capabilities | None:
        return self.session.capabilities

    @property
    def runtime_version(self) -> str | None:
        return self.session.runtime_version

    @property
    def store(self) -> TelemetryStore | None:
        return self.session.store

    @property
    def outage_text(self) -> str:
        """``disconnected since 14:02 - reconnecting (attempt 3)``; "" while connected."""
        return outage_text(self.session)

    @property
    def rate_hz(self) -> float:
        return self._wanted_rate

    # -- user intent -------------------------------------------------------------------------
    def connect_device(self) -> Future[None]:
        """Handshake and subscribe on the worker thread; results arrive as signals."""
        self._attach()
        return self._run(self._connect_job, "Connecting")

    def reconnect(self) -> Future[None]:
        self._attach()
        return self._run(self._reconnect_job, "Reconnecting")

    def close_link(self, then: Callable[[], str] | None = None) -> Future[None]:
        """Close the link (no reconnecting) on the worker thread, then run ``then`` there; what it
        returns arrives as ``noticed``."""
        def job() -> None:
            self.session.close()
            if then is not None:
                self.noticed.emit(then())

        return self._run(job, "Closing the link")

    def set_rate(self, rate_hz: float) -> Future[None]:
        self._wanted_rate = rate_hz
        return self._run(self._rate_job, "Changing the rate")

    def run_blocking(self, job: Callable[[], None]) -> Future[None]:
        """Run a blocking device call (alerts, thresholds, ...) on this device's worker thread,
        after any connect already queued. ``job`` reports its own errors; transport errors it
        lets through become ``failed``."""
        return self._run(job, "A request")

    # close(): detach from the core, wait for the worker, close the session; safe to call twice
    def _closing(self) -> None:
        self._detach()

    def _closed_down(self) -> None:
        self.session.close()

    # -- worker thread -----------------------------------------------------------------------
    def _failure_text(self, what: str, exc: BaseException) -> str:
        return plain_error(self.display_name, exc)

    def _connect_job(self) -> None:
        try:
            self.session.connect(CONNECT_TIMEOUT_S)
        except (DeviceError, TransportError, OSError) as exc:
            if not self.closed and self.session.can_retry(exc):
                self.session.retry_later(str(exc))  # keeps trying with backoff, shown as reconnecting
                return
            raise
        self._subscribe()

    def _reconnect_job(self) -> None:
        self.session.close()
        self._connect_job()

    def _rate_job(self) -> None:
        if self.session.state is State.CONNECTED:
            self._subscribe()

    def _subscribe(self) -> None:
        session = self.session
        backfill = self.backfill_s if session.store is None else 0.0
        before = session.store
        table = session.start_telemetry(self._wanted_rate, backfill)
        if session.store is not before or backfill:
            self.tableChanged.emit(list(table.metrics))
        self.rateChanged.emit(table.rate_hz)

    # -- reader thread -> signals ------------------------------------------------------------
    def _attach(self) -> None:
        if self._listeners_on:
            return
        self._listeners_on = True
        self.session.state_listeners.append(self._on_state)
        self.session.sample_listeners.append(self._on_sample)
        self.session.outage_listeners.append(self._on_outage)

    def _detach(self) -> None:
        if not self._listeners_on:
            return
        self._listeners_on = False
        for listeners, fn in ((self.session.state_listeners, self._on_state),
                              (self.session.sample_listeners, self._on_sample),
                              (self.session.outage_listeners, self._on_outage)):
            try:
                listeners.remove(fn)  # type: ignore[arg-type]
            except ValueError:
                pass

    def _on_state(self, state: State, message: str) -> None:
        self.stateChanged.emit(state.value, message)

    def _on_outage(self, outage: Outage) -> None:
        self.outageChanged.emit(dataclasses.replace(outage))  # a copy: the session goes on changing its own

    def _on_sample(self, t: float, values: dict[str, float]) -> None:
        self.sampleArrived.emit(t)

