"""Add an SSH device: an alias from ~/.ssh/config, or host, user, port and key.

The same rules as ``edgectl devices add`` (``DeviceRegistry.problems``) are checked before the
dialog closes; every problem is listed in words and what was typed stays.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from console.core.devices.registry import DeviceRegistry
from console.core.settings import DeviceEntry
from console.ui.charts.chart import plain_label


class AddDeviceDialog(QDialog):
    """Add a device, or with ``editing`` change a registered one (its name stays: it keys its pages)."""

    def __init__(self, registry: DeviceRegistry, parent: QWidget | None = None,
                 editing: DeviceEntry | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.editing = editing
        self.setWindowTitle("Add device" if editing is None else "Edit %s" % editing.display_name)
        self.setMinimumWidth(480)
        self.name = self._line("robot-07", "How the console names the device")
        self.host = self._line("SSH config alias, host name or address",
                               "An alias from ~/.ssh/config brings its HostName, User, Port, keys and ProxyJump")
        self.user = self._line("from the SSH config, else yours", "Login user on the device")
        self.port = QSpinBox()
        self.port.setRange(0, 65535)
        self.port.setSpecialValueText("from the SSH config, else 22")
        self.port.setMinimumHeight(32)
        self.key = self._line("from the SSH config, ssh-agent or ~/.ssh/id_*", "Private key file")
        browse = QPushButton("Browse…")
        browse.setMinimumHeight(32)
        browse.clicked.connect(self._browse_key)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key, 1)
        key_row.addWidget(browse)
        self.runtime = self._line("searched in the usual install places", "edge-runtime's path on the device")
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("SSH alias or host", self.host)
        form.addRow("User", self.user)
        form.addRow("Port", self.port)
        form.addRow("Key", key_row)
        form.addRow("Runtime path", self.runtime)
        self.error = plain_label("")
        self.error.setObjectName("AddDeviceErrors")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c0392b;")
        self.error.setVisible(False)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert ok is not None
        ok.setText("Add" if editing is None else "Save")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.added: DeviceEntry | None = None
        if editing is not None:
            self.name.setText(editing.name)
            self.name.setReadOnly(True)
            self.name.setToolTip("A device keeps its name; remove it and add it again to rename it")
            for edit, value in ((self.host, editing.host), (self.user, editing.user), (self.key, editing.key),
                                (self.runtime, editing.runtime)):
                edit.setText(value or "")
            self.port.setValue(editing.port or 0)

    @staticmethod
    def _line(placeholder: str, tip: str) -> QLineEdit:
        edit = QLineEdit()
        edit.setPlaceholderText(placeholder)
        edit.setToolTip(tip)
        edit.setMinimumHeight(32)
        return edit

    def _browse_key(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Private key", str(self.registry.env.home / ".ssh"))
        if path:
            self.key.setText(path)

    def entry(self) -> DeviceEntry:
        """What the form says, as a device entry (not yet checked)."""
        def text(edit: QLineEdit) -> str | None:
            return edit.text().strip() or None

        host = text(self.host)
        return DeviceEntry(name=text(self.name) or host or "", kind="ssh", host=host, user=text(self.user),
                           port=self.port.value() or None, key=text(self.key), runtime=text(self.runtime))

    def submit(self) -> None:
        entry = self.entry()
        if self.editing is not None:  # the same name, the rest as typed; what the device kept stays
            entry.label, entry.python = self.editing.label, self.editing.python
            entry.last_page, entry.latency_budget_ms = self.editing.last_page, self.editing.latency_budget_ms
            entry.tags = list(self.editing.tags)
        problems = self.registry.problems(entry, replacing=self.editing is not None)
        if problems:
            self.error.setText("\n".join("• %s" % p for p in problems))
            self.error.setVisible(True)
            return
        if self.editing is not None:
            self.registry.replace(entry)
        else:
            self.registry.add(entry)
        self.added = entry
        self.accept()

    @classmethod
    def ask(cls, registry: DeviceRegistry, parent: QWidget | None = None) -> DeviceEntry | None:
        dialog = cls(registry, parent)
        dialog.exec()
        return dialog.added
