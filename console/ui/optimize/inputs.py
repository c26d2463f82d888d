"""The Optimize page's files on their way to an SSH device: the model, then the calibration data.

Each has its :class:`TransferRow` (bytes, rate, time left, Stop) under the step that needs it. The
page sends the model itself and hears only the outcome: the device path to use, or a sentence saying
what went wrong. The calibration data is sent by the pipeline (through the same stager, so its
progress and Stop are this row's too), which reports the outcome in its own events.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from console.core.optimize.pipeline import SEND_CALIBRATION, SEND_MODEL
from console.core.transfers.progress import TransferStatus
from console.ui.widgets.file_sender import FileSender
from console.ui.widgets.transfer_row import TransferRow

MODEL = SEND_MODEL
CALIBRATION = SEND_CALIBRATION  # sent by the pipeline itself, through the same stager: its row shows it


class OptimizeInputs(QObject):
    sent = Signal(str, str)  # MODEL or CALIBRATION, the device path of the file
    failed = Signal(str, str)  # MODEL or CALIBRATION, a plain sentence
    changed = Signal()  # a transfer started, moved or ended (buttons follow)

    def __init__(self, files: FileSender, device: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.files = files
        self.device = device
        # What this page sends, as the GUI thread knows it: a file is on its way from send() until its
        # outcome (staged or failed) arrives here, however soon the worker itself is done with it.
        self._sending: set[str] = set()
        self.rows = {MODEL: TransferRow(), CALIBRATION: TransferRow()}
        for tag, row in self.rows.items():
            row.stop_button.clicked.connect(lambda _=False, tag=tag: files.stop(tag))
        files.progressed.connect(self._on_progress)
        files.staged.connect(self._on_staged)
        files.failed.connect(self._on_failed)

    def send(self, tag: str, local: Path) -> None:
        if self.files.send(tag, [local]) is not None:
            self._sending.add(tag)
        self.changed.emit()

    def busy(self) -> bool:
        return bool(self._sending)

    def _on_progress(self, tag: str, status: TransferStatus) -> None:
        row = self.rows.get(tag)
        if row is not None:
            row.show_status(status, self.device)
            self.changed.emit()

    def _on_staged(self, tag: str, paths: list[str]) -> None:
        row = self.rows.get(tag)
        if row is not None:
            self._sending.discard(tag)
            row.finish()
            self.sent.emit(tag, paths[0])
            self.changed.emit()

    def _on_failed(self, tag: str, message: str) -> None:
        row = self.rows.get(tag)
        if row is not None:
            self._sending.discard(tag)
            row.finish()
            self.failed.emit(tag, message)
            self.changed.emit()
