"""Package signing keys in the console's config directory (``<config>/keys/``).

``<name>.key`` holds the Ed25519 private key (PKCS#8 PEM, mode 0600, refused if anyone else can
read it, as ssh does); ``<name>.pub`` the one-line public key the device trusts. Devices only
ever receive the public line.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from device_runtime.package_format.errors import StoreError
from device_runtime.package_format.signing import PublicKey, parse_public_key

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class KeyError_(Exception):
    """A key that cannot be made, found or used; the message says what to do."""


@dataclass
class KeyInfo:
    name: str
    key_id: str
    public_line: str
    private_path: Path | None


class KeyStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _check_name(self, name: str) -> str:
        if not _NAME.match(name):
            raise KeyError_("a key name is 1-64 letters, digits, '.', '_' or '-' (got %r)" % name)
        return name

    def new(self, name: str, comment: str | None = None) -> KeyInfo:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        self._check_name(name)
        private_path = self.directory / (name + ".key")
        if private_path.exists():
            raise KeyError_("a key named %s already exists (%s): pick another name" % (name, private_path))
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        public = PublicKey(raw, comment if comment is not None else name)
        (self.directory / (name + ".pub")).write_text(public.line() + "\n")
        return KeyInfo(name, public.key_id, public.line(), private_path)

    def list(self) -> list[KeyInfo]:
        if not self.directory.is_dir():
            return []
        found = []
        for pub in sorted(self.directory.glob("*.pub")):
            try:
                public = parse_public_key(pub.read_text())
            except (OSError, StoreError):  # a damaged file lists nothing
                continue
            private = pub.with_suffix(".key")
            found.append(KeyInfo(pub.stem, public.key_id, public.line(), private if private.exists() else None))
        return found

    def export(self, name: str) -> str:
        path = self.directory / (self._check_name(name) + ".pub")
        if not path.exists():
            raise KeyError_("no key named %s (keys: %s); make one with edgectl keys new %s" % (
                name, ", ".join(k.name for k in self.list()) or "none", name))
        return parse_public_key(path.read_text()).line()

    def private_key(self, name_or_path: str) -> Any:
        """The Ed25519 private key named ``name_or_path`` here, or read from that path."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        # A key name wins over a file or folder of the same name in the working directory.
        named = self.directory / (name_or_path + ".key")
        path = named if _NAME.match(name_or_path) and named.exists() else Path(name_or_path)
        if path.is_dir():
            raise KeyError_("%s is a folder: give a key name from edgectl keys list or a .key file" % name_or_path)
        if not path.exists():
            raise KeyError_("no private key %s: give a key name from edgectl keys list or a .key file" % name_or_path)
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise KeyError_("%s can be read by other users (mode %o): run chmod 600 %s" % (path, mode, path))
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise KeyError_("%s is not an unencrypted PEM private key: %s" % (path, exc)) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyError_("%s is not an Ed25519 key" % path)
        return key
