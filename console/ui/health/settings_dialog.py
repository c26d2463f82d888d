"""The health settings dialog: what the device's checks expect, read from the device, edited,
validated and written back.

Input is checked here first (the same rules as ``edgectl health-config --set``) and every problem
is listed in words; what the device refuses is shown the same way and nothing is lost: the
dialog stays open with the values as typed.
"""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QLineEdit, QWidget

from console.core.health.monitor import (
    CONFIG_FIELDS,
    HealthConfigError,
    format_config_value,
    parse_config_value,
    validate_config,
)
from console.ui.health.qt_health import QtHealth
from console.ui.widgets.settings_dialog import DeviceSettingsDialog
from device_runtime.protocol import HealthConfig

NOT_CHECKED = "not checked"


class HealthSettingsDialog(DeviceSettingsDialog):
    problem_type = HealthConfigError

    def __init__(self, health: QtHealth, device_name: str, parent: QWidget | None = None) -> None:
        super().__init__("Health settings — %s" % device_name, "Reading the health settings from %s…" % device_name,
                         "HealthSettingsErrors", 520, parent)
        self.health = health
        self.fields: dict[str, QLineEdit | QComboBox] = {}
        for f in CONFIG_FIELDS:
            widget: QLineEdit | QComboBox
            if f.kind in ("bool", "opt_bool"):
                widget = QComboBox()
                widget.addItems(["on", "off"] if f.kind == "bool" else [NOT_CHECKED, "on", "off"])
            else:
                widget = QLineEdit()
                if f.kind.startswith("opt"):
                    widget.setPlaceholderText("empty: not checked")
            widget.setToolTip(f.help)
            widget.setMinimumHeight(32)
            self.fields[f.key] = widget
            self.form.addRow("%s%s" % (f.label, " (%s)" % f.unit if f.unit else ""), widget)
        self._start(health.configLoaded, health.configSaved, health.configFailed)
        health.load_config()

    def editors(self) -> list[QWidget]:
        return list(self.fields.values())

    def fill(self, settings: HealthConfig) -> str:
        for f in CONFIG_FIELDS:
            self.set_text(f.key, format_config_value(f, getattr(settings, f.key)))
        return "These apply to this device only and take effect at the next run."

    def save(self, settings: HealthConfig) -> None:
        self.health.save_config(settings)

    def set_text(self, key: str, text: str) -> None:
        """Put ``text`` in a field as a person would ("" picks "not checked" in a choice)."""
        widget = self.fields[key]
        if isinstance(widget, QComboBox):
            widget.setCurrentText(text or NOT_CHECKED)
        else:
            widget.setText(text)

    def text(self, key: str) -> str:
        widget = self.fields[key]
        if isinstance(widget, QComboBox):
            value = widget.currentText()
            return "" if value == NOT_CHECKED else value
        return widget.text()

    def read_form(self) -> HealthConfig:
        """The form as settings; raises :class:`HealthConfigError` listing every problem."""
        problems: list[str] = []
        wire: dict[str, object] = {}
        for f in CONFIG_FIELDS:
            text = self.text(f.key)
            if f.kind == "float" and not text.strip():
                problems.append("%s cannot be empty." % f.label)
                continue
            try:
                wire[f.key] = parse_config_value(f, text)
            except HealthConfigError as exc:
                problems.append(str(exc))
        if problems:
            raise HealthConfigError("\n".join(problems))
        config = HealthConfig.from_wire(wire)
        problems = validate_config(config)
        if problems:
            raise HealthConfigError("\n".join(problems))
        return config
