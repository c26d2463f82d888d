"""The latency probe's controls: which model, how often (off, 1 to 30 Hz), shapes for dynamic
inputs, and the probe's state and back-off reason in words."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from console.core.telemetry.latency import LatencyError, parse_shapes, probe_words
from console.ui.charts.chart import plain_label
from console.ui.dashboard.qt_latency import QtLatency
from device_runtime.protocol import PROBE_FAILED, PROBE_OFF, PROBE_PAUSED, ProbeStatus

RATES_HZ = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0)
STATE_WORDS = {PROBE_OFF: "Off", PROBE_PAUSED: "Paused", PROBE_FAILED: "Failed"}


class ProbeControl(QWidget):
    def __init__(self, model: QtLatency, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.model_box = QComboBox()
        self.model_box.setEditable(True)
        self.model_box.setMinimumWidth(240)
        self.model_box.setToolTip("A stored model; the probe runs its active version")
        self.rate_box = QComboBox()
        for hz in RATES_HZ:
            self.rate_box.addItem("Off" if hz == 0 else "%g Hz" % hz, hz)
        self.rate_box.setToolTip("How often the probe runs one inference")
        self.shapes_edit = QLineEdit()
        self.shapes_edit.setPlaceholderText("shapes for dynamic inputs, e.g. image:1x3x64x64")
        for box in (self.model_box, self.rate_box, self.shapes_edit):
            box.setMinimumHeight(32)  # a touch target even where the card is short of room
        self.apply_button = QPushButton("Apply")
        self.apply_button.setMinimumHeight(32)
        self.status_label = plain_label(probe_words(model.probe))
        self.status_label.setObjectName("ChartValues")
        self.status_label.setWordWrap(True)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Probe"))
        row.addWidget(self.model_box)
        row.addWidget(self.rate_box)
        row.addWidget(self.shapes_edit, 1)
        row.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.status_label)
        self.apply_button.clicked.connect(self.apply)
        model.probeChanged.connect(self._on_probe)
        model.probeRefused.connect(self._on_refused)
        model.modelsLoaded.connect(self._on_models)
        if model.probe is not None:
            self._on_probe(model.probe)

    def apply(self) -> None:
        """Send what the controls say; a refusal shows the device's words and changes nothing."""
        rate = float(self.rate_box.currentData())
        name = self.model_box.currentText().strip() or None
        try:
            shapes = parse_shapes(self.shapes_edit.text().split())
        except LatencyError as exc:
            self.status_label.setText(str(exc))
            return
        self.model.set_probe(name, rate, shapes)

    def _on_models(self, names: list[str]) -> None:
        current = self.model_box.currentText()
        self.model_box.clear()
        self.model_box.addItems(names)
        if current:
            self.model_box.setEditText(current)

    def _on_probe(self, status: ProbeStatus) -> None:
        self.status_label.setText(probe_words(status))
        if status.model and not self.model_box.currentText():
            self.model_box.setEditText(status.model)
        index = self.rate_box.findData(status.rate_hz if status.state != PROBE_OFF else 0.0)
        if index >= 0:
            self.rate_box.setCurrentIndex(index)
        if status.shapes and not self.shapes_edit.text():
            self.shapes_edit.setText(" ".join("%s:%s" % (n, "x".join(map(str, s))) for n, s in status.shapes.items()))

    def _on_refused(self, text: str) -> None:
        self.status_label.setText("Not changed: %s" % text)
