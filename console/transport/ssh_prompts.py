"""What the SSH transport may ask a person while it connects.

The transport never decides on trust or secrets by itself: it asks through this interface. The GUI
answers with dialogs, edgectl on a terminal, and a script (no terminal) with a refusal, so every
question has an answer that does not hang.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from console.transport.hostkeys import HostKeyChanged, UnknownHostKey

if TYPE_CHECKING:
    from console.transport.ssh_config import Hop
    from console.transport.ssh_keys import KeyOffer


class SshPrompts:
    """The default: a headless caller that refuses every question (nothing is trusted silently)."""

    def confirm_host_key(self, unknown: UnknownHostKey) -> bool:
        """Trust this never-seen host key? ``True`` saves it to the console's known_hosts."""
        return False

    def host_key_changed(self, changed: HostKeyChanged) -> None:
        """Tell the person that a host key changed; the connection is refused whatever happens here."""

    def passphrase(self, key_path: str, retry: bool) -> str | None:
        """The passphrase of an encrypted private key, or ``None`` to skip that key."""
        return None

    def password(self, user: str, host: str, retry: bool) -> str | None:
        """The login password, or ``None`` to give up on password login."""
        return None

    def offer_key_install(self, offer: KeyOffer) -> bool:
        """After a password login: install the user's public key on the device? ``True`` installs it."""
        return False

    def key_install_done(self, offer: KeyOffer, added: bool, error: str | None) -> None:
        """How the install went: ``added`` False with no error means the key was there already."""

    def no_key_offer(self, hop: Hop, reason: str) -> None:
        """After a password login: why no key install is offered (a sentence with what to do)."""
