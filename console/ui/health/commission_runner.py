"""The commissioning run behind the wizard: it holds the device for minutes, so it runs on its own
thread and reports each step change as a Qt signal; and the report as PDF, rendered by Qt from
the same self-contained HTML."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QPdfWriter, QTextDocument

from console.core.commissioning.checklist import (
    CommissionError,
    Commissioning,
    CommissionOptions,
    CommissionReport,
    StepResult,
)
from console.core.commissioning.model_steps import drill_refusal
from console.core.commissioning.report import report_html
from console.core.devices.client import DeviceError
from console.core.env import ConsoleEnv
from console.transport.base import TransportError
from console.ui.health.qt_health import QtHealth
from device_runtime.protocol import STORE_HISTORY, STORE_MODELS, Empty, StoreHistoryQuery


def write_pdf(report: CommissionReport, path: Path) -> Path:
    """The printable report as PDF, rendered by Qt from the same HTML."""
    document = QTextDocument()
    document.setHtml(report_html(report))
    writer = QPdfWriter(str(path))
    writer.setTitle("Commissioning report %s" % report.serial)
    document.print_(writer)
    return path


class CommissionRunner(QObject):
    stepChanged = Signal(object)  # a copy of the StepResult that changed
    finished = Signal(object, list)  # CommissionReport, [json path, html path]
    failed = Signal(str)  # could not start or could not save, in words
    modelsLoaded = Signal(list, dict)  # list[StoreModel]; {model name: why the drill will not switch}

    def __init__(self, health: QtHealth, env: ConsoleEnv, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.health = health
        self.env = env
        self.run: Commissioning | None = None
        self.worker: threading.Thread | None = None

    def load_models(self) -> None:
        def job() -> None:
            session = self.health.model.session
            reply = session.call(STORE_MODELS, Empty())
            refusals: dict[str, str] = {}
            for m in reply.models:
                if m.active is not None and m.previous is not None:
                    history = session.call(STORE_HISTORY, StoreHistoryQuery(m.name, limit=1000))
                    refusal = drill_refusal(m.name, m.active, m.previous, list(history.entries))
                    if refusal:
                        refusals[m.name] = refusal
            self.modelsLoaded.emit(list(reply.models), refusals)

        self.health.model.run_blocking(job)

    def start(self, options: CommissionOptions, out_dir: Path) -> None:
        self.worker = threading.Thread(target=self._work, args=(options, out_dir), name="commission", daemon=True)
        self.worker.start()

    def cancel(self) -> None:
        if self.run is not None:
            self.run.cancel()

    def _emit_step(self, step: StepResult) -> None:
        self.stepChanged.emit(dataclasses.replace(step, details=list(step.details)))

    def _work(self, options: CommissionOptions, out_dir: Path) -> None:
        session = self.health.model.session
        try:
            self.run = Commissioning(session, self.env, options, self._emit_step)
        except (CommissionError, DeviceError, TransportError) as exc:
            self.failed.emit("Commissioning cannot start: %s." % str(exc).rstrip("."))
            return
        report = self.run.run()
        try:
            paths = list(self.run.save(out_dir))
        except OSError as exc:
            self.failed.emit("The report could not be saved in %s (%s). Choose a folder you can write to."
                             % (out_dir, exc.strerror or exc))
            return
        self.finished.emit(report, paths)
