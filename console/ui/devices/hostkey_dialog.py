"""Host key dialogs, and the bridge that lets the SSH transport ask its questions as dialogs.

The transport connects on a worker thread; :class:`DialogPrompts` carries each question to the GUI
thread, shows the dialog there and hands the answer back (the worker waits). An unknown key offers
Trust or Cancel (Cancel is the default); a changed key offers nothing but Close. After a password
login it offers to install the user's public key (``key_install_dialog``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from console.transport.hostkeys import HostKeyChanged, UnknownHostKey
from console.transport.ssh_config import Hop
from console.transport.ssh_keys import KeyOffer
from console.transport.ssh_prompts import SshPrompts
from console.ui.charts.chart import plain_label
from console.ui.devices.secret_dialog import SecretDialog


def fingerprint_label(text: str) -> QLabel:
    label = plain_label(text)
    font = QFont("monospace")
    font.setStyleHint(QFont.StyleHint.Monospace)
    label.setFont(font)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def answer_buttons(dialog: QDialog, accept: str, reject: str,
                   default_accept: bool) -> tuple[QDialogButtonBox, QPushButton, QPushButton]:
    """A yes/no pair wired to ``dialog``'s accept/reject; the default is the safe answer."""
    buttons = QDialogButtonBox()
    yes, no = QPushButton(accept), QPushButton(reject)
    for button in (yes, no):
        button.setMinimumHeight(32)
    buttons.addButton(yes, QDialogButtonBox.ButtonRole.AcceptRole)
    buttons.addButton(no, QDialogButtonBox.ButtonRole.RejectRole)
    (yes if default_accept else no).setDefault(True)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    return buttons, yes, no


class UnknownHostKeyDialog(QDialog):
    def __init__(self, unknown: UnknownHostKey, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Unknown host key")
        self.setMinimumWidth(520)
        intro = plain_label("The console has never seen the host key of %s. Compare the fingerprint with the "
                            "device's own (on the device: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) before "
                            "trusting it." % unknown.host)
        intro.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Key type", plain_label(unknown.key_type))
        self.fingerprint = fingerprint_label(unknown.fingerprint)
        form.addRow("Fingerprint", self.fingerprint)
        if unknown.known_types:
            form.addRow("Already known", plain_label("keys of another type: %s" % ", ".join(unknown.known_types)))
        buttons, self.trust_button, self.cancel_button = answer_buttons(self, "Trust and connect", "Cancel", False)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(buttons)


class ChangedHostKeyDialog(QDialog):
    def __init__(self, changed: HostKeyChanged, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Host key changed: not connecting")
        self.setMinimumWidth(560)
        title = plain_label("The host key of %s changed. The console will not connect." % changed.host)
        title.setObjectName("HostKeyWarning")
        title.setStyleSheet("font-weight: bold; color: #c0392b;")
        form = QFormLayout()
        form.addRow("Was", fingerprint_label(changed.old_fingerprint))
        form.addRow("Now", fingerprint_label("%s (%s)" % (changed.new_fingerprint, changed.key_type)))
        self.advice = plain_label(str(changed)[0].upper() + str(changed)[1:])
        self.advice.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addLayout(form)
        layout.addWidget(self.advice)
        layout.addWidget(buttons)


class DialogPrompts(QObject, SshPrompts):
    """SSH questions as dialogs over ``parent``, from whichever thread the transport connects on."""

    _ask = Signal(object)

    def __init__(self, parent: QWidget) -> None:
        QObject.__init__(self, parent)
        self._window = parent
        self.outcome: QMessageBox | None = None  # the last key install's result, while it is shown
        self._ask.connect(self._on_ask, Qt.ConnectionType.BlockingQueuedConnection)

    def _run(self, show: Callable[[], Any]) -> Any:
        if QThread.currentThread() is self.thread():
            return show()
        box: list[Any] = [show, None]
        self._ask.emit(box)  # returns once the dialog has been answered on the GUI thread
        return box[1]

    @Slot(object)
    def _on_ask(self, box: list[Any]) -> None:
        box[1] = box[0]()

    def confirm_host_key(self, unknown: UnknownHostKey) -> bool:
        return bool(self._run(lambda: UnknownHostKeyDialog(unknown, self._window).exec()
                              == QDialog.DialogCode.Accepted))

    def host_key_changed(self, changed: HostKeyChanged) -> None:
        self._run(lambda: ChangedHostKeyDialog(changed, self._window).exec())

    def passphrase(self, key_path: str, retry: bool) -> str | None:
        answer = self._run(lambda: SecretDialog.passphrase(key_path, retry, self._window).answer())
        return answer if isinstance(answer, str) else None

    def password(self, user: str, host: str, retry: bool) -> str | None:
        answer = self._run(lambda: SecretDialog.password(user, host, retry, self._window).answer())
        return answer if isinstance(answer, str) else None

    def offer_key_install(self, offer: KeyOffer) -> bool:
        from console.ui.devices.key_install_dialog import KeyInstallDialog

        return bool(self._run(lambda: KeyInstallDialog(offer, self._window).ask()))

    def no_key_offer(self, hop: Hop, reason: str) -> None:
        """Shown without waiting, like the install's outcome: the next login asks for the password again."""

        def show() -> None:
            box = QMessageBox(QMessageBox.Icon.Information, "SSH key",
                              "You logged in to %s with a password, and the next login asks for it again: %s."
                              % (hop.describe(), reason.rstrip(".")), QMessageBox.StandardButton.Ok, self._window)
            box.setTextFormat(Qt.TextFormat.PlainText)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            self.outcome = box
            box.open()

        self._run(show)

    def key_install_done(self, offer: KeyOffer, added: bool, error: str | None) -> None:
        """Shown without waiting: the connection goes on while the person reads it."""
        from console.ui.devices.key_install_dialog import install_outcome

        def show() -> None:
            icon = QMessageBox.Icon.Warning if error is not None else QMessageBox.Icon.Information
            box = QMessageBox(icon, "SSH key", install_outcome(offer, added, error), QMessageBox.StandardButton.Ok,
                              self._window)
            box.setTextFormat(Qt.TextFormat.PlainText)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            self.outcome = box
            box.open()

        self._run(show)
