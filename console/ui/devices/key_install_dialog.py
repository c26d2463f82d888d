"""After a password login: offer to put the user's public key on the device.

It names the key (type, fingerprint, where it comes from) and the file it goes into; "Install key"
is the default, "Not now" leaves the device as it is and the next login asks for the password again
(and offers again). A laptop with no key is offered a new one, made only when accepted.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QFormLayout, QVBoxLayout, QWidget

from console.transport.ssh_keys import KeyOffer
from console.ui.charts.chart import plain_label
from console.ui.devices.hostkey_dialog import answer_buttons, fingerprint_label


class KeyInstallDialog(QDialog):
    def __init__(self, offer: KeyOffer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Log in without a password")
        self.setMinimumWidth(520)
        if offer.new_private_key is None:
            question = ("You logged in to %s with a password. Install your public key there, so the console "
                        "logs in with the key next time and never needs the password again?" % offer.hop.describe())
        else:
            question = ("You logged in to %s with a password, and this computer has no SSH key yet. Make one "
                        "(no passphrase; only your account can read it) and install it there, so the console "
                        "logs in with the key next time and never needs the password again?" % offer.hop.describe())
        intro = plain_label(question)
        intro.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Key", plain_label(offer.key.key_type))
        self.fingerprint = fingerprint_label(offer.key.fingerprint)
        form.addRow("Fingerprint", self.fingerprint)
        self.source = plain_label(offer.key.source if offer.new_private_key is None
                                  else "new, saved as %s and %s" % (offer.private_key_path, offer.key.source))
        form.addRow("From", self.source)
        self.where = plain_label(offer.where)
        form.addRow("Into", self.where)
        buttons, self.install_button, self.later_button = answer_buttons(self, "Install key", "Not now", True)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def ask(self) -> bool:
        return self.exec() == QDialog.DialogCode.Accepted


def install_outcome(offer: KeyOffer, added: bool, error: str | None) -> str:
    """The sentence shown after the install."""
    if error is not None:
        return "Your key was not installed on %s: %s. The next login asks for the password again." % (
            offer.hop.describe(), error.rstrip("."))
    if not added:
        return "Your key %s was already in %s." % (offer.key.fingerprint, offer.where)
    made = "" if offer.new_private_key is None else "Made a new key in %s. " % offer.private_key_path
    return "%sInstalled your key %s in %s: the next login to %s needs no password." % (
        made, offer.key.fingerprint, offer.where, offer.hop.hostname)
