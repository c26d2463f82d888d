"""Ed25519 signatures over the canonical manifest, and the device's trusted public keys.

The device holds public keys only: nothing on it can forge a package. A key travels as one
text line, ``ed25519 <base64 of the 32 raw bytes> [comment]``; its id is the first 16 hex
digits of the SHA-256 of the raw bytes. ``cryptography`` is imported lazily (it costs the
daemon several MB), so verification runs in the import child process.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from device_runtime import fileio
from device_runtime.package_format.errors import Code, StoreError

ALGORITHM = "ed25519"
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")
MAX_SIGNATURE_BYTES = 4096


@dataclass
class PublicKey:
    raw: bytes
    comment: str = ""

    @property
    def key_id(self) -> str:
        return key_id(self.raw)

    def line(self) -> str:
        text = "%s %s" % (ALGORITHM, base64.b64encode(self.raw).decode("ascii"))
        return text + (" " + self.comment if self.comment else "")


def key_id(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:16]


def parse_public_key(text: str) -> PublicKey:
    parts = text.strip().split(None, 2)
    if len(parts) < 2 or parts[0] != ALGORITHM:
        raise StoreError(Code.BAD_REQUEST, "a public key is one line 'ed25519 <base64> [comment]' (as written by "
                                           "edgectl keys export); got %r" % text.strip()[:80])
    try:
        raw = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise StoreError(Code.BAD_REQUEST, "the public key's base64 part is damaged") from None
    if len(raw) != 32:
        raise StoreError(Code.BAD_REQUEST, "an Ed25519 public key is 32 bytes, this one is %d" % len(raw))
    comment = parts[2].strip() if len(parts) > 2 else ""
    if "\n" in comment or len(comment) > 200:
        raise StoreError(Code.BAD_REQUEST, "the key's comment must be one line of at most 200 characters")
    return PublicKey(raw, comment)


@dataclass
class Signature:
    key_id: str
    signature: bytes

    def to_bytes(self) -> bytes:
        data = {"algorithm": ALGORITHM, "key_id": self.key_id,
                "signature": base64.b64encode(self.signature).decode("ascii")}
        return (json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n").encode()

    @classmethod
    def parse(cls, raw: bytes) -> Signature:
        bad = StoreError(Code.BAD_SIGNATURE, "manifest.sig is damaged (not a signature record written by edgectl "
                                             "package sign): re-sign the package")
        if len(raw) > MAX_SIGNATURE_BYTES:
            raise bad
        try:
            data: Any = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise bad from None
        if not isinstance(data, dict) or set(data) != {"algorithm", "key_id", "signature"}:
            raise bad
        if data["algorithm"] != ALGORITHM or not isinstance(data["key_id"], str) or not _KEY_ID.match(
                data["key_id"]) or not isinstance(data["signature"], str):
            raise bad
        try:
            sig = base64.b64decode(data["signature"], validate=True)
        except (binascii.Error, ValueError):
            raise bad from None
        if len(sig) != 64:
            raise bad
        parsed = cls(data["key_id"], sig)
        if parsed.to_bytes() != raw:
            raise bad
        return parsed


def sign(private_key: Any, manifest_bytes: bytes) -> Signature:
    """Sign with a ``cryptography`` Ed25519PrivateKey (the console holds it, never the device)."""
    from cryptography.hazmat.primitives import serialization

    raw = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return Signature(key_id(raw), private_key.sign(manifest_bytes))


def verify(public: PublicKey, signature: Signature, manifest_bytes: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public.raw).verify(signature.signature, manifest_bytes)
    except InvalidSignature:
        return False
    return True


class TrustStore:
    """``<root>/config/trusted_keys/<key id>.pub``: the public keys this device accepts."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def all_keys(self) -> List[PublicKey]:
        found: List[PublicKey] = []
        try:
            names = sorted(os.listdir(self.directory))
        except FileNotFoundError:
            return found
        for name in names:
            if not name.endswith(".pub") or name.startswith("."):
                continue
            try:
                with open(os.path.join(self.directory, name)) as handle:
                    found.append(parse_public_key(handle.read()))
            except (OSError, StoreError):
                continue  # a damaged key file trusts nothing
        return found

    def by_id(self) -> Dict[str, PublicKey]:
        return {k.key_id: k for k in self.all_keys()}

    def trust(self, key: PublicKey) -> PublicKey:
        fileio.make_dirs(self.directory)
        fileio.write_atomic(os.path.join(self.directory, key.key_id + ".pub"), (key.line() + "\n").encode(), 0o644)
        return key

    def check(self, signature: Optional[Signature], manifest_bytes: bytes, required: bool) -> Optional[PublicKey]:
        """The signer's key when the signature is good; None for an unsigned package that is allowed."""
        if signature is None:
            if required:
                raise StoreError(Code.UNSIGNED, "the package is not signed and this device requires signed "
                                                "packages: sign it with edgectl package sign PKG --key KEY")
            return None
        key = self.by_id().get(signature.key_id)
        if key is None:
            raise StoreError(Code.UNTRUSTED_KEY, "the package is signed by key %s, which this device does not "
                                                 "trust: trust it with edgectl --device D keys trust KEY.pub"
                             % signature.key_id)
        if not verify(key, signature, manifest_bytes):
            raise StoreError(Code.BAD_SIGNATURE, "the signature by key %s does not match the manifest: the "
                                                 "package was changed after signing" % signature.key_id)
        return key
