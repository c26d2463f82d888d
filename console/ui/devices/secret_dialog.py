"""Asks for a key passphrase or a login password; the text is never shown, stored or logged."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLineEdit, QVBoxLayout, QWidget

from console.ui.charts.chart import plain_label


class SecretDialog(QDialog):
    def __init__(self, title: str, prompt: str, retry: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(420)
        self.prompt = plain_label(("That was not right. " if retry else "") + prompt)
        self.prompt.setWordWrap(True)
        self.secret = QLineEdit()
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret.setMinimumHeight(32)
        self.secret.setAccessibleName(title)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.prompt)
        layout.addWidget(self.secret)
        layout.addWidget(buttons)

    def answer(self) -> str | None:
        """Run the dialog: the text, or ``None`` when cancelled."""
        if self.exec() != QDialog.DialogCode.Accepted:
            return None
        return self.secret.text()

    @classmethod
    def passphrase(cls, key_path: str, retry: bool, parent: QWidget | None = None) -> SecretDialog:
        return cls("Key passphrase", "Passphrase for the private key %s:" % key_path, retry, parent)

    @classmethod
    def password(cls, user: str, host: str, retry: bool, parent: QWidget | None = None) -> SecretDialog:
        return cls("Password", "Password for %s@%s:" % (user, host), retry, parent)
