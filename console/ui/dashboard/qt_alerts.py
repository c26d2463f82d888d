"""The Qt face of a device's alerts: the core :class:`AlertFeed` re-emitted as Qt signals.

After each connect the feed subscribes and back-fills on the device's worker thread; live
alert events arrive on the connection's reader thread and Qt queues the signals onto the GUI
thread. Thresholds are read and written the same way, so the GUI never waits on the network.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from console.core.devices.client import DeviceError
from console.core.telemetry.alerts import AlertFeed, AlertLog, AlertsUnavailable
from console.core.telemetry.thresholds import ThresholdError, get_thresholds, set_thresholds
from console.transport.base import TransportError
from console.ui.devices.qt_session import QtSession
from console.ui.qt_adapter import QtFeedAdapter
from device_runtime.protocol import AlertEvent, AlertThresholds


class QtAlerts(QtFeedAdapter):
    alertChanged = Signal(object)  # AlertEvent: a new alert, or one that ended
    thresholdsLoaded = Signal(object)  # AlertThresholds
    thresholdsSaved = Signal(object)  # AlertThresholds, as the device now uses them
    thresholdsFailed = Signal(str)  # what went wrong and what to do

    def __init__(self, model: QtSession, parent: QObject | None = None) -> None:
        super().__init__(model, parent)
        self.feed = AlertFeed(model.session)
        self.feed.listeners.append(self.alertChanged.emit)
        self.feed.attach()
        self._follow_connection()

    @property
    def log(self) -> AlertLog:
        return self.feed.log

    def alerts(self) -> list[AlertEvent]:
        return self.feed.log.alerts()

    def load_thresholds(self) -> None:
        self.model.run_blocking(self._load_job)

    def save_thresholds(self, thresholds: AlertThresholds) -> None:
        self.model.run_blocking(lambda: self._save_job(thresholds))

    def close(self) -> None:
        self.feed.detach()

    # -- worker thread -----------------------------------------------------------------------
    def _start_job(self) -> None:
        try:
            self.feed.start()
        except AlertsUnavailable as exc:
            self._set_notice(str(exc))
        except (DeviceError, TransportError, OSError) as exc:
            self._set_notice("Alerts from %s could not be loaded: %s. Press F5 to reconnect."
                             % (self.model.display_name, str(exc).rstrip(".")))
        else:
            self._set_notice("")

    def _load_job(self) -> None:
        try:
            self.thresholdsLoaded.emit(get_thresholds(self.model.session))
        except (DeviceError, TransportError, OSError) as exc:
            self.thresholdsFailed.emit(self._why(exc, "read"))

    def _save_job(self, thresholds: AlertThresholds) -> None:
        try:
            self.thresholdsSaved.emit(set_thresholds(self.model.session, thresholds))
        except ThresholdError as exc:
            self.thresholdsFailed.emit(str(exc))
        except (DeviceError, TransportError, OSError) as exc:
            self.thresholdsFailed.emit(self._why(exc, "save"))

    def _why(self, exc: BaseException, verb: str) -> str:
        text = str(exc).strip().rstrip(".") or type(exc).__name__
        return "Could not %s the alert thresholds of %s: %s." % (verb, self.model.display_name, text)
