"""One file on its way to a device: a sentence (bytes, rate, time left), a bar and a Stop button.

Hidden while nothing is sent. The row only shows what it is given; the page that owns the
:class:`~console.ui.widgets.file_sender.FileSender` wires Stop to it.
"""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QVBoxLayout, QWidget

from console.core.transfers.progress import CHECKING, VERIFYING, TransferStatus
from console.ui.charts.chart import plain_label


class TransferRow(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = plain_label("")
        self.label.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.stop_button = QPushButton("Stop sending")
        self.stop_button.setMinimumHeight(32)
        self.stop_button.setToolTip("The device keeps what it received; sending again goes on from there")
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.bar, 1)
        row.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addLayout(row)
        self.setVisible(False)

    def show_status(self, status: TransferStatus, device: str) -> None:
        self.setVisible(True)
        self.label.setText(status.text(device))
        if status.phase in (CHECKING, VERIFYING):
            self.bar.setRange(0, 0)  # busy: no byte count to show
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(round(status.fraction * 1000))
        self.stop_button.setEnabled(status.phase != VERIFYING)

    def finish(self) -> None:
        self.setVisible(False)
        self.label.setText("")
