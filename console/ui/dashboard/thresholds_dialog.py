"""The per-device alert thresholds dialog: read from the device, edit, validate, write back.

Input is checked here first (the same rules as ``edgectl thresholds --set``) and every problem
is listed in words; what the device refuses is shown the same way and nothing is lost: the
dialog stays open with the values as typed.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLineEdit, QWidget

from console.core.telemetry.thresholds import (
    FIELDS,
    ThresholdError,
    format_zone_limits,
    parse_number,
    parse_zone_limits,
    validate,
)
from console.ui.dashboard.qt_alerts import QtAlerts
from console.ui.widgets.settings_dialog import DeviceSettingsDialog
from device_runtime.protocol import AlertThresholds


class ThresholdsDialog(DeviceSettingsDialog):
    problem_type = ThresholdError

    def __init__(self, alerts: QtAlerts, device_name: str, parent: QWidget | None = None) -> None:
        super().__init__("Alert thresholds — %s" % device_name, "Reading the thresholds from %s…" % device_name,
                         "ThresholdErrors", 460, parent)
        self.alerts = alerts
        self.fields: dict[str, QLineEdit] = {}
        for f in FIELDS:
            edit = QLineEdit()
            edit.setToolTip(f.help)
            edit.setMinimumHeight(32)
            self.fields[f.key] = edit
            self.form.addRow("%s (%s)" % (f.label, f.unit), edit)
        self.zones = QLineEdit()
        self.zones.setPlaceholderText("e.g. GPU=80, tj=90")
        self.zones.setToolTip("Per-zone warning limits in °C that replace the general one")
        self.zones.setMinimumHeight(32)
        self.form.addRow("Zone limits (°C)", self.zones)
        self._start(alerts.thresholdsLoaded, alerts.thresholdsSaved, alerts.thresholdsFailed)
        alerts.load_thresholds()

    def editors(self) -> list[QWidget]:
        return [*self.fields.values(), self.zones]

    def fill(self, settings: AlertThresholds) -> str:
        for f in FIELDS:
            self.fields[f.key].setText("%g" % getattr(settings, f.key))
        self.zones.setText(format_zone_limits(settings.zone_limits_c))
        return "These apply to this device only and take effect at once."

    def save(self, settings: AlertThresholds) -> None:
        self.alerts.save_thresholds(settings)

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
