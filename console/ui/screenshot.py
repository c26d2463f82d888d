"""``edge-console --screenshot``: wait until live data is drawn, save the window, quit."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TextIO

from PySide6.QtCore import QObject, QSize, QTimer
from PySide6.QtWidgets import QApplication

from console.core.devices.session import State
from console.core.exit_codes import ExitCode
from console.ui.main_window import MainWindow

SHOT_SIZE = QSize(1400, 900)
MIN_POINTS = 5
CONNECT_WAIT_S = 20.0
DATA_WAIT_S = 20.0


class WhenDrawn(QObject):
    """Polls the window until its dashboard has drawn a few samples, then grabs it."""

    def __init__(self, window: MainWindow, path: Path, stderr: TextIO) -> None:
        super().__init__(window)
        self.window = window
        window.resize(SHOT_SIZE)  # the same picture on any screen (a shown window fits its screen)
        self.path = path
        self.stderr = stderr
        self.code = ExitCode.ERROR
        self.started = time.monotonic()
        self.connected_at: float | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(100)
        self.timer.timeout.connect(self._on_tick)
        self.timer.start()

    def _finish(self, code: ExitCode, message: str = "") -> None:
        self.timer.stop()
        self.code = code
        if message:
            self.stderr.write("edge-console: %s\n" % message)
        QApplication.exit(code)

    def _on_tick(self) -> None:
        model, dashboard = self.window.model(), self.window.dashboard()
        now = time.monotonic()
        if self.window.start_fleet:  # every device read once (or found unreachable), whichever page is open
            if not self.window.page_ready(False):
                if now - self.started > CONNECT_WAIT_S + DATA_WAIT_S:
                    self._finish(ExitCode.ERROR, "the fleet's devices were not all read within %.0f s"
                                 % (CONNECT_WAIT_S + DATA_WAIT_S))
                return
            self._grab()
            return
        name = self.window.current or "the device"
        if model is None or dashboard is None:
            reason = self.window.open_errors.get(name, "Cannot open %s." % name)
            self._finish(ExitCode.UNREACHABLE, reason)
            return
        if model.state is State.FAILED:
            self._finish(ExitCode.UNREACHABLE, "cannot connect to %s: %s" % (name, model.message))
            return
        if model.state is not State.CONNECTED:
            if now - self.started > CONNECT_WAIT_S:
                self._finish(ExitCode.UNREACHABLE, "%s did not connect within %.0f s" % (name, CONNECT_WAIT_S))
            return
        self.connected_at = self.connected_at or now
        if not self.window.page_ready(dashboard.points_drawn() >= MIN_POINTS):
            if now - self.connected_at > DATA_WAIT_S:
                self._finish(ExitCode.ERROR, "no telemetry from %s within %.0f s" % (name, DATA_WAIT_S))
            return
        self._grab()

    def _grab(self) -> None:
        if not self.window.grab().save(str(self.path), "PNG"):
            self._finish(ExitCode.ERROR, "could not write %s" % self.path)
            return
        self._finish(ExitCode.OK)
