"""SSH questions answered on edgectl's terminal; without one (scripts, CI) every question is refused.

Its own module: every edgectl command installs it, and it needs no paramiko, so a command that reaches
no SSH device never imports it.
"""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING

from console.core.env import ConsoleEnv
from console.transport.ssh_prompts import SshPrompts

if TYPE_CHECKING:
    from console.transport.hostkeys import HostKeyChanged, UnknownHostKey
    from console.transport.ssh_config import Hop
    from console.transport.ssh_keys import KeyOffer


class TerminalPrompts(SshPrompts):
    """Asks on the terminal; without one (scripts, CI) every question is refused, never guessed."""

    def __init__(self, env: ConsoleEnv) -> None:
        self.env = env

    def interactive(self) -> bool:
        try:
            return self.env.stdin.isatty()
        except (AttributeError, ValueError):
            return False

    def confirm_host_key(self, unknown: UnknownHostKey) -> bool:
        if not self.interactive():
            return False
        err = self.env.stderr
        err.write("The host key of %s is not known.\n  key type:    %s\n  fingerprint: %s\n"
                  % (unknown.host, unknown.key_type, unknown.fingerprint))
        err.write("Compare it with the device's (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on the device).\n"
                  "Trust it and connect? [y/N] ")
        err.flush()
        return self.env.stdin.readline().strip().lower() in ("y", "yes")

    def host_key_changed(self, changed: HostKeyChanged) -> None:
        self.env.stderr.write("WARNING: %s\n" % changed)

    def passphrase(self, key_path: str, retry: bool) -> str | None:
        if not self.interactive():
            return None
        prompt = "%sPassphrase for %s: " % ("Wrong passphrase. " if retry else "", key_path)
        return getpass.getpass(prompt, stream=self.env.stderr) or None

    def password(self, user: str, host: str, retry: bool) -> str | None:
        if not self.interactive():
            return None
        prompt = "%sPassword for %s@%s: " % ("Wrong password. " if retry else "", user, host)
        return getpass.getpass(prompt, stream=self.env.stderr) or None

    def offer_key_install(self, offer: KeyOffer) -> bool:
        if not self.interactive():
            return False
        err = self.env.stderr
        err.write("You logged in to %s with a password. Install your public key there, so the next login needs "
                  "none?\n  key:  %s %s (%s)\n  into: %s\nInstall it? [y/N] "
                  % (offer.hop.describe(), offer.key.key_type, offer.key.fingerprint, offer.key.source, offer.where))
        err.flush()
        return self.env.stdin.readline().strip().lower() in ("y", "yes")

    def no_key_offer(self, hop: Hop, reason: str) -> None:
        self.env.stderr.write("edgectl: you logged in to %s with a password; no key install is offered: %s\n"
                              % (hop.describe(), reason.rstrip(".") + "."))

    def key_install_done(self, offer: KeyOffer, added: bool, error: str | None) -> None:
        if error is not None:
            self.env.stderr.write("edgectl: the key was not installed: %s\n" % error)
        else:
            self.env.stderr.write("%s %s in %s\n" % ("installed" if added else "already in place:",
                                                      offer.key.fingerprint, offer.where))
