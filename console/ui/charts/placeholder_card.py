"""A chart slot the device does not fill (no such sensor on this board): it says so in words
instead of drawing zeros."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QVBoxLayout, QWidget

from console.ui.charts.chart import plain_label


class PlaceholderCard(QFrame):
    """A slot the device does not fill: says so in words instead of drawing zeros."""

    def __init__(self, title: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ChartCard")
        self.title_label = plain_label(title)
        self.title_label.setObjectName("ChartTitle")
        self.text_label = plain_label(text)
        self.text_label.setObjectName("ChartValues")
        self.text_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 10)
        layout.addWidget(self.title_label)
        layout.addWidget(self.text_label)
        layout.addStretch(1)
