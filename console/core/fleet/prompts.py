"""SSH questions from many devices connecting at once, asked one at a time."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from console.transport.ssh_prompts import SshPrompts

if TYPE_CHECKING:
    from console.transport.hostkeys import HostKeyChanged, UnknownHostKey
    from console.transport.ssh_keys import KeyOffer


class OneAtATime(SshPrompts):
    """Passes each question to ``inner`` while holding a lock: a terminal or a dialog shows one device's
    host key or password question at a time, never two interleaved."""

    def __init__(self, inner: SshPrompts) -> None:
        self.inner = inner
        self._lock = threading.Lock()

    def confirm_host_key(self, unknown: UnknownHostKey) -> bool:
        with self._lock:
            return self.inner.confirm_host_key(unknown)

    def host_key_changed(self, changed: HostKeyChanged) -> None:
        with self._lock:
            self.inner.host_key_changed(changed)

    def passphrase(self, key_path: str, retry: bool) -> str | None:
        with self._lock:
            return self.inner.passphrase(key_path, retry)

    def password(self, user: str, host: str, retry: bool) -> str | None:
        with self._lock:
            return self.inner.password(user, host, retry)

    def offer_key_install(self, offer: KeyOffer) -> bool:
        with self._lock:
            return self.inner.offer_key_install(offer)

    def key_install_done(self, offer: KeyOffer, added: bool, error: str | None) -> None:
        with self._lock:
            self.inner.key_install_done(offer, added, error)
