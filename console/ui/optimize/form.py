"""The Optimize page's "Target" step: precision, backend, input shapes, calibration data (with how
images become inputs: size, layout, channel order, scale, mean, std), output.

Filled from the model's validate report: backends come from what the device said it can run
(unavailable ones are listed, disabled, with the reason), dynamic inputs get a shape field each.
The form turns itself into an :class:`OptimizeChoice` or a sentence saying what to fix.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)

from console.core.jobs.specs import SpecError, default_shapes, dynamic_inputs, parse_preprocess, parse_shape
from console.core.optimize.plan import OptimizeChoice
from device_runtime.protocol import Capabilities, ValidateReport

PRECISION_ITEMS = (("FP32 (as trained)", "fp32"), ("FP16", "fp16"), ("INT8 (needs calibration data)", "int8"))


def backend_options(report: ValidateReport | None, caps: Capabilities | None) -> list[tuple[str, tuple[str, str], str]]:
    """(label, (backend, provider), reason it cannot be used or "") for each backend."""
    out: list[tuple[str, tuple[str, str], str]] = []
    for support in report.backends if report is not None else []:
        kind, _, provider = support.backend.partition(":")
        backend = "trt" if kind == "tensorrt" else "ort"
        label = "TensorRT engine" if backend == "trt" else "ONNX Runtime · %s" % (
            provider.replace("ExecutionProvider", "") or "default")
        reason = ""
        if not support.available:
            reason = support.note or "not available on this device"
        elif support.unsupported_ops:
            reason = "unsupported operators: %s" % ", ".join(support.unsupported_ops)
        out.append((label, (backend, provider), reason))
    if not out and caps is not None:
        out.append(("ONNX Runtime", ("ort", ""), "" if "onnxruntime" in caps.backends else "not installed"))
        no_trt = "" if caps.tensorrt else "TensorRT is not installed on this device"
        out.append(("TensorRT engine", ("trt", ""), no_trt))
    return out


class TargetForm(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.precision = QComboBox()
        for text, value in PRECISION_ITEMS:
            self.precision.addItem(text, value)
        self.backend = QComboBox()
        self.calibration = QLineEdit()
        self.calibration.setPlaceholderText(".npz / .npy file or a folder of them or of images")
        self.calibration_browse = QPushButton("Browse…")
        self.method = QComboBox()
        for method in ("minmax", "entropy", "percentile"):
            self.method.addItem(method, method)
        self.image_size = QLineEdit()
        self.image_size.setPlaceholderText("HxW, e.g. 640x640 (default: the input's own)")
        self.image_layout = QComboBox()
        for text, value in (("from the input", ""), ("NCHW", "NCHW"), ("NHWC", "NHWC")):
            self.image_layout.addItem(text, value)
        self.channels = QComboBox()
        for text in ("RGB", "BGR"):
            self.channels.addItem(text, text)
        self.pixel_scale = QLineEdit()
        self.pixel_scale.setPlaceholderText("1/255 when empty; 1 keeps 0-255 pixels")
        self.mean = QLineEdit()
        self.mean.setPlaceholderText("after scaling: one value or R,G,B (e.g. 0.485,0.456,0.406)")
        self.std = QLineEdit()
        self.std.setPlaceholderText("one value or R,G,B (e.g. 0.229,0.224,0.225)")
        self.preprocess_widgets: tuple[QWidget, ...] = (self.image_size, self.image_layout, self.channels,
                                                        self.pixel_scale, self.mean, self.std)
        self.output_dir = QLineEdit()
        self.output_dir.setPlaceholderText("the model's folder")
        self.seconds = QDoubleSpinBox()
        self.seconds.setRange(0.5, 600.0)
        self.seconds.setValue(5.0)
        self.seconds.setSuffix(" s")
        self.shape_edits: dict[str, QLineEdit] = {}
        self._report: ValidateReport | None = None

        calibration_row = QHBoxLayout()
        calibration_row.addWidget(self.calibration, 1)
        calibration_row.addWidget(self.calibration_browse)
        self.form = QFormLayout(self)
        self.form.addRow("Precision", self.precision)
        self.form.addRow("Backend", self.backend)
        self.form.addRow("Calibration data", calibration_row)
        self.form.addRow("Calibration method", self.method)
        self.form.addRow("Image size", self.image_size)
        self.form.addRow("Image layout", self.image_layout)
        self.form.addRow("Channel order", self.channels)
        self.form.addRow("Pixel scale", self.pixel_scale)
        self.form.addRow("Mean", self.mean)
        self.form.addRow("Std", self.std)
        self.form.addRow("Output folder", self.output_dir)
        self.form.addRow("Benchmark for", self.seconds)
        for widget in (self.precision, self.backend, self.method):
            widget.currentIndexChanged.connect(self._on_changed)
        for edit in (self.calibration, self.output_dir):
            edit.textChanged.connect(self._on_changed)
        self._on_changed()

    def set_report(self, report: ValidateReport | None, caps: Capabilities | None) -> None:
        self._report = report
        self.backend.clear()
        model = self.backend.model()
        assert isinstance(model, QStandardItemModel)
        first_usable = -1
        for label, data, reason in backend_options(report, caps):
            self.backend.addItem(label if not reason else "%s (%s)" % (label, reason), data)
            item = model.item(self.backend.count() - 1)
            if reason:
                item.setEnabled(False)
                item.setToolTip(reason)
            elif first_usable < 0:
                first_usable = self.backend.count() - 1
        if first_usable >= 0:
            self.backend.setCurrentIndex(first_usable)
        for edit in self.shape_edits.values():
            self.form.removeRow(edit)
        self.shape_edits = {}
        if report is not None:
            defaults = default_shapes(report)
            for name, symbols in dynamic_inputs(report.inputs).items():
                edit = QLineEdit("x".join(str(d) for d in defaults.get(name, [])))
                edit.setPlaceholderText("e.g. 1x3x320x320")
                edit.setToolTip("%s has symbolic dimension(s) %s: give a concrete shape" % (name, ", ".join(symbols)))
                edit.textChanged.connect(self._on_changed)
                self.shape_edits[name] = edit
                self.form.addRow("Shape of %s" % name, edit)
            if report.model and not self.output_dir.text():
                self.output_dir.setText(os.path.dirname(report.model))
        self._on_changed()

    def _on_changed(self) -> None:
        int8 = self.precision.currentData() == "int8"
        for widget in (self.calibration, self.calibration_browse, self.method, *self.preprocess_widgets):
            widget.setEnabled(int8)
        self.changed.emit()

    def choice(self, model: str) -> OptimizeChoice:
        """The person's choices; raises :class:`SpecError` naming the field to fix."""
        data = self.backend.currentData()
        if not data:
            raise SpecError("no backend on this device can run the model")
        backend, provider = data
        shapes: dict[str, list[int]] = {}
        for name, edit in self.shape_edits.items():
            if not edit.text().strip():
                raise SpecError("give a shape for %s (e.g. 1x3x320x320)" % name)
            shapes[name] = parse_shape("%s:%s" % (name, edit.text().strip()), "shape of")[1]
        calibration = self.calibration.text().strip() or None
        int8 = self.precision.currentData() == "int8"
        preprocess = parse_preprocess(self.image_size.text().strip(), self.image_layout.currentData(),
                                      self.channels.currentData(), self.pixel_scale.text().strip(),
                                      self.mean.text().strip(), self.std.text().strip()) if int8 else {}
        return OptimizeChoice(model, self.precision.currentData(), backend, provider or None,
                              self.output_dir.text().strip(), shapes, calibration if int8 else None,
                              self.method.currentData(), self.seconds.value(), preprocess=preprocess)
