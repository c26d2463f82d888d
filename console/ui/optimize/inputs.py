"""The Optimize page's files on their way to an SSH device: the model, then the calibration data.

Each has its :class:`TransferRow` (bytes, rate, time left, Stop) under the step that needs it. The
core model check and pipeline send them through the device's
:class:`~console.core.transfers.sending.FileStager`; this object shows the progress the page's
:class:`FileSender` relays for their tags, wires Stop to the stager and hides a row once its step
reports the send over.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from console.core.optimize.pipeline import SEND_CALIBRATION, SEND_MODEL
from console.core.transfers.progress import TransferStatus
from console.ui.widgets.file_sender import FileSender
from console.ui.widgets.transfer_row import TransferRow

MODEL = SEND_MODEL
CALIBRATION = SEND_CALIBRATION


class OptimizeInputs(QObject):
    changed = Signal()  # a transfer moved or ended (buttons follow)

    def __init__(self, files: FileSender, device: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.files = files
        self.device = device
        self.rows = {MODEL: TransferRow(), CALIBRATION: TransferRow()}
        for tag, row in self.rows.items():
            row.stop_button.clicked.connect(lambda _=False, tag=tag: files.stop(tag))
        files.progressed.connect(self._on_progress)

    def finish(self, tag: str) -> None:
        """The send of ``tag`` is over (staged or failed): its row goes."""
        row = self.rows.get(tag)
        if row is not None:
            row.finish()
            self.changed.emit()

    def _on_progress(self, tag: str, status: TransferStatus) -> None:
        row = self.rows.get(tag)
        if row is not None:
            row.show_status(status, self.device)
            self.changed.emit()
