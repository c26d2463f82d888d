"""The Qt face of a device's health: the core :class:`HealthMonitor` re-emitted as Qt signals.

After each connect the monitor subscribes and back-fills on the device's worker thread; pushed
reports arrive on the connection's reader thread and Qt queues the signals onto the GUI thread.
Settings are read and written the same way, so the GUI never waits on the network.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from console.core.commissioning.checklist import CommissionReport
from console.core.commissioning.report import recall_last_run, remember_last_run
from console.core.devices.client import DeviceError
from console.core.health.monitor import HealthConfigError, HealthMonitor, HealthUnavailable
from console.transport.base import TransportError
from console.ui.devices.qt_session import QtSession
from console.ui.qt_adapter import QtFeedAdapter
from device_runtime.protocol import HealthConfig, HealthReport


def plain_tooltip(text: str) -> str:
    """A tooltip showing device text as typed: Qt guesses rich text in tooltips, so escape it."""
    return "<p style='white-space:pre-wrap'>%s</p>" % html.escape(text)


# Colour always comes with a word. Amber and red read on light and dark backgrounds.
HEALTH_COLORS = {"healthy": "#2e9e4f", "degraded": "#d99a1c", "unhealthy": "#d64545", "unknown": "#8a8f98"}


class QtHealth(QtFeedAdapter):
    reportChanged = Signal(object)  # HealthReport: the newest run
    historyReset = Signal()  # the history was (re)loaded: redraw it all
    runFailed = Signal(str)
    configLoaded = Signal(object)  # HealthConfig
    configSaved = Signal(object)  # HealthConfig, as the device now uses it
    configFailed = Signal(str)
    commissioningChanged = Signal(object)  # CommissionReport: the last commissioning run in this console

    def __init__(self, model: QtSession, data_dir: Path | None = None, parent: QObject | None = None) -> None:
        """``data_dir``: where the device's last commissioning run is kept across console restarts."""
        super().__init__(model, parent)
        self.data_dir = data_dir
        self.monitor = HealthMonitor(model.session)
        self.monitor.listeners.append(self.reportChanged.emit)
        self.monitor.attach()
        self.config: HealthConfig | None = None
        self.commissioning: CommissionReport | None = None
        self.commissioning_problem = ""  # the kept record could not be read or written: why, and what to do
        if data_dir is not None:
            try:
                self.commissioning = recall_last_run(data_dir, model.session.name)
            except ValueError as exc:
                self.commissioning_problem = "The last commissioning run is not known: %s." % exc
        self._follow_connection()

    @property
    def overall(self) -> str:
        return self.monitor.overall

    @property
    def last(self) -> HealthReport | None:
        return self.monitor.last

    def run_now(self) -> None:
        self.model.run_blocking(self._run_job)

    def load_config(self) -> None:
        self.model.run_blocking(self._load_job)

    def save_config(self, config: HealthConfig) -> None:
        self.model.run_blocking(lambda: self._save_job(config))

    def set_commissioning(self, report: CommissionReport) -> None:
        """A commissioning run ended: the Health page and the sidebar show its outcome."""
        self.commissioning = report
        self.commissioningChanged.emit(report)
        if self.data_dir is None:
            return
        try:
            remember_last_run(report, self.data_dir, self.model.session.name)
        except OSError as exc:
            self.runFailed.emit("This commissioning run is not kept for the next start of the console: cannot "
                                "write %s (%s). Free space or fix that folder's permissions; the saved report "
                                "is not affected." % (exc.filename or self.data_dir, exc.strerror or exc))

    def close(self) -> None:
        self.monitor.detach()

    def _why(self, exc: BaseException, what: str) -> str:
        text = str(exc).strip().rstrip(".") or type(exc).__name__
        return "Could not %s of %s: %s." % (what, self.model.display_name, text)

    # -- worker thread -----------------------------------------------------------------------
    def _start_job(self) -> None:
        try:
            self.config = self.monitor.get_config()  # first: the page's "every N s" reads it with the report
            last = self.monitor.start()
        except HealthUnavailable as exc:
            self._set_notice(str(exc))
            return
        except (DeviceError, TransportError, OSError) as exc:
            self._set_notice(self._why(exc, "read the health") + " Press F5 to reconnect.")
            return
        self._set_notice("")
        self.historyReset.emit()
        self.reportChanged.emit(last)

    def _run_job(self) -> None:
        try:
            self.monitor.run()
        except (DeviceError, TransportError, OSError) as exc:
            self.runFailed.emit(self._why(exc, "run the health checks"))

    def _load_job(self) -> None:
        try:
            self.config = self.monitor.get_config()
            self.configLoaded.emit(self.config)
        except (DeviceError, TransportError, OSError) as exc:
            self.configFailed.emit(self._why(exc, "read the health settings"))

    def _save_job(self, config: HealthConfig) -> None:
        try:
            self.config = self.monitor.set_config(config)
        except HealthConfigError as exc:
            self.configFailed.emit(str(exc))
            return
        except (DeviceError, TransportError, OSError) as exc:
            self.configFailed.emit(self._why(exc, "save the health settings"))
            return
        self.configSaved.emit(self.config)
        self._run_job()  # show at once what the new settings say
