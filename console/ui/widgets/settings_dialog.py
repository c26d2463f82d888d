"""The shape every per-device settings dialog shares: read the settings from the device, let a
person edit them, check them here first, write them back, and never lose what was typed.

Subclasses add their rows to ``self.form``, list their editors, turn the form into a record
(``read_form``, raising ``problem_type`` with every problem in words) and say how to save.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import SignalInstance
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QPushButton, QVBoxLayout, QWidget

from console.ui.charts.chart import plain_label


class DeviceSettingsDialog(QDialog):
    problem_type: type[Exception] = ValueError

    def __init__(self, title: str, reading: str, errors_name: str, min_width: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(min_width)
        self.status = plain_label(reading)
        self.status.setWordWrap(True)
        self.status.setObjectName("DashboardNotice")
        self.error = plain_label("")
        self.error.setWordWrap(True)
        self.error.setObjectName(errors_name)
        self.error.setStyleSheet("color: #c0392b;")
        self.error.setVisible(False)
        self.form = QFormLayout()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        assert isinstance(save, QPushButton)
        self.save_button = save
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addLayout(self.form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.saved: Any = None
        self.loaded = False

    def _start(self, loaded: SignalInstance, saved: SignalInstance, failed: SignalInstance) -> None:
        """Call at the end of a subclass's ``__init__``, then ask the device for the settings."""
        self._set_editable(False)
        loaded.connect(self._on_loaded)
        saved.connect(self._on_saved)
        failed.connect(self._on_failed)

    # -- for subclasses -----------------------------------------------------------------------
    def editors(self) -> list[QWidget]:
        raise NotImplementedError

    def fill(self, settings: Any) -> str:
        """Show ``settings`` in the form; returns the sentence the status line then says."""
        raise NotImplementedError

    def read_form(self) -> Any:
        raise NotImplementedError

    def save(self, settings: Any) -> None:
        raise NotImplementedError

    # -- shared flow ----------------------------------------------------------------------------
    def _set_editable(self, editable: bool) -> None:
        for widget in self.editors():
            widget.setEnabled(editable)
        self.save_button.setEnabled(editable)

    def _on_loaded(self, settings: Any) -> None:
        self.status.setText(self.fill(settings))
        self.loaded = True
        self._set_editable(True)

    def submit(self) -> None:
        try:
            settings = self.read_form()
        except self.problem_type as exc:
            self._show_error(str(exc))
            return
        self._show_error("")
        self.status.setText("Saving…")
        self._set_editable(False)
        self.save(settings)

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def _on_saved(self, settings: Any) -> None:
        self.saved = settings
        self.accept()

    def _on_failed(self, message: str) -> None:
        self._show_error(message)
        if not self.loaded:  # nothing to edit: the form would only show made-up values
            self.status.setText("Close this dialog and try again once the device is connected.")
            return
        self.status.setText("Nothing was changed on the device.")
        self._set_editable(True)
