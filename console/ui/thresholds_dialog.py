"""The per-device alert thresholds dialog: read from the device, edit, validate, write back.

Input is checked here first (the same rules as ``edgectl thresholds --set``) and every problem
is listed in words; what the device refuses is shown the same way and nothing is lost: the
dialog stays open with the values as typed.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from console.core.thresholds import (
    FIELDS,
    ThresholdError,
    format_zone_limits,
    parse_number,
    parse_zone_limits,
    validate,
)
from console.ui.alerts_model import AlertsModel
from console.ui.chart import plain_label
from device_runtime.protocol import AlertThresholds


class ThresholdsDialog(QDialog):
    def __init__(self, alerts: AlertsModel, device_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.alerts = alerts
        self.setWindowTitle("Alert thresholds — %s" % device_name)
        self.setMinimumWidth(460)
        self.status = plain_label("Reading the thresholds from %s…" % device_name)
        self.status.setWordWrap(True)
        self.status.setObjectName("DashboardNotice")
        self.error = plain_label("")
        self.error.setWordWrap(True)
        self.error.setObjectName("ThresholdErrors")
        self.error.setStyleSheet("color: #c0392b;")
        self.error.setVisible(False)
        self.fields: dict[str, QLineEdit] = {}
        form = QFormLayout()
        for f in FIELDS:
            edit = QLineEdit()
            edit.setToolTip(f.help)
            edit.setMinimumHeight(32)
            self.fields[f.key] = edit
            form.addRow("%s (%s)" % (f.label, f.unit), edit)
        self.zones = QLineEdit()
        self.zones.setPlaceholderText("e.g. GPU=80, tj=90")
        self.zones.setToolTip("Per-zone warning limits in °C that replace the general one")
        self.zones.setMinimumHeight(32)
        form.addRow("Zone limits (°C)", self.zones)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        assert isinstance(save, QPushButton)
        self.save_button = save
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.saved: AlertThresholds | None = None
        self.loaded = False
        self._set_editable(False)
        alerts.thresholdsLoaded.connect(self._on_loaded)
        alerts.thresholdsSaved.connect(self._on_saved)
        alerts.thresholdsFailed.connect(self._on_failed)
        alerts.load_thresholds()

    def _set_editable(self, editable: bool) -> None:
        for edit in [*self.fields.values(), self.zones]:
            edit.setEnabled(editable)
        self.save_button.setEnabled(editable)

    def _on_loaded(self, thresholds: AlertThresholds) -> None:
        for f in FIELDS:
            self.fields[f.key].setText("%g" % getattr(thresholds, f.key))
        self.zones.setText(format_zone_limits(thresholds.zone_limits_c))
        self.status.setText("These apply to this device only and take effect at once.")
        self.loaded = True
        self._set_editable(True)

    def read_form(self) -> AlertThresholds:
        """The form as thresholds; raises :class:`ThresholdError` listing every problem."""
        problems: list[str] = []
        wire: dict[str, object] = {}
        for f in FIELDS:
            try:
                wire[f.key] = parse_number(f.label, self.fields[f.key].text())
            except ThresholdError as exc:
                problems.append(str(exc))
        try:
            wire["zone_limits_c"] = parse_zone_limits(self.zones.text())
        except ThresholdError as exc:
            problems.append(str(exc))
        if problems:
            raise ThresholdError("\n".join(problems))
        thresholds = AlertThresholds.from_wire(wire)
        problems = validate(thresholds)
        if problems:
            raise ThresholdError("\n".join(problems))
        return thresholds

    def submit(self) -> None:
        try:
            thresholds = self.read_form()
        except ThresholdError as exc:
            self._show_error(str(exc))
            return
        self._show_error("")
        self.status.setText("Saving…")
        self._set_editable(False)
        self.alerts.save_thresholds(thresholds)

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def _on_saved(self, thresholds: AlertThresholds) -> None:
        self.saved = thresholds
        self.accept()

    def _on_failed(self, message: str) -> None:
        self._show_error(message)
        if not self.loaded:  # nothing to edit: the form would only show made-up values
            self.status.setText("Close this dialog and try again once the device is connected.")
            return
        self.status.setText("Nothing was changed on the device.")
        self._set_editable(True)
