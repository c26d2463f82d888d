"""The health settings dialog: what the device's checks expect, read from the device, edited,
validated and written back.

Input is checked here first (the same rules as ``edgectl health-config --set``) and every problem
is listed in words; what the device refuses is shown the same way and nothing is lost: the
dialog stays open with the values as typed.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from console.core.health import (
    CONFIG_FIELDS,
    HealthConfigError,
    format_config_value,
    parse_config_value,
    validate_config,
)
from console.ui.chart import plain_label
from console.ui.health_model import HealthModel
from device_runtime.protocol import HealthConfig

NOT_CHECKED = "not checked"


class HealthSettingsDialog(QDialog):
    def __init__(self, health: HealthModel, device_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.health = health
        self.setWindowTitle("Health settings — %s" % device_name)
        self.setMinimumWidth(520)
        self.status = plain_label("Reading the health settings from %s…" % device_name)
        self.status.setWordWrap(True)
        self.status.setObjectName("DashboardNotice")
        self.error = plain_label("")
        self.error.setWordWrap(True)
        self.error.setObjectName("HealthSettingsErrors")
        self.error.setStyleSheet("color: #c0392b;")
        self.error.setVisible(False)
        self.fields: dict[str, QLineEdit | QComboBox] = {}
        form = QFormLayout()
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
            form.addRow("%s%s" % (f.label, " (%s)" % f.unit if f.unit else ""), widget)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
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
        self.saved: HealthConfig | None = None
        self.loaded = False
        self._set_editable(False)
        health.configLoaded.connect(self._on_loaded)
        health.configSaved.connect(self._on_saved)
        health.configFailed.connect(self._on_failed)
        health.load_config()

    def _set_editable(self, editable: bool) -> None:
        for widget in self.fields.values():
            widget.setEnabled(editable)
        self.save_button.setEnabled(editable)

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

    def _on_loaded(self, config: HealthConfig) -> None:
        for f in CONFIG_FIELDS:
            self.set_text(f.key, format_config_value(f, getattr(config, f.key)))
        self.status.setText("These apply to this device only and take effect at the next run.")
        self.loaded = True
        self._set_editable(True)

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

    def submit(self) -> None:
        try:
            config = self.read_form()
        except HealthConfigError as exc:
            self._show_error(str(exc))
            return
        self._show_error("")
        self.status.setText("Saving…")
        self._set_editable(False)
        self.health.save_config(config)

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def _on_saved(self, config: HealthConfig) -> None:
        self.saved = config
        self.accept()

    def _on_failed(self, message: str) -> None:
        self._show_error(message)
        if not self.loaded:
            self.status.setText("Close this dialog and try again once the device is connected.")
            return
        self.status.setText("Nothing was changed on the device.")
        self._set_editable(True)
