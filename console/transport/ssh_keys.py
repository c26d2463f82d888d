"""Putting the user's public key on a device, so the next login needs no password.

A fresh robot is often reached by password first. Which key to install is the one the console would
log in with: the device's identity files (``--key``, IdentityFile, else ``~/.ssh/id_*``) that have a
``.pub`` next to them, then the ssh-agent's first key. Installing appends one line to the login
user's ``~/.ssh/authorized_keys`` over SFTP on the connection already open: ``~/.ssh`` is made
0700 and the file 0600 when they are new, a key already there is not added twice, and the file
is only ever appended to (one write in append mode), never rewritten.

A laptop with no key pair at all (no identity file, no agent key) is offered a new one: an ed25519
pair made in memory, written to the first identity file (``~/.ssh/id_ed25519`` by default) only
when the person accepts, so the next login finds it where OpenSSH would.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from console.transport.ssh_agent import SocketAgent
from console.transport.ssh_config import Hop

AUTHORIZED_KEYS = ".ssh/authorized_keys"  # relative: SFTP starts in the login user's home
MAX_AUTHORIZED_KEYS_BYTES = 1 << 20


class KeyInstallError(Exception):
    """The key could not be installed; the message says why and what to do."""


@dataclass(frozen=True)
class PublicKey:
    key_type: str  # e.g. ssh-ed25519
    blob: str  # base64, as in an authorized_keys line
    comment: str
    fingerprint: str  # SHA256:...
    source: str  # the .pub file it came from, or "ssh-agent"

    @property
    def line(self) -> str:
        return " ".join(part for part in (self.key_type, self.blob, self.comment) if part)


@dataclass(frozen=True)
class KeyOffer:
    """What the console proposes after a password login: put ``key`` on ``hop``."""

    hop: Hop
    key: PublicKey
    new_private_key: bytes | None = None  # a pair not on disk yet: saved next to ``key.source`` when accepted

    @property
    def where(self) -> str:
        return "~/.ssh/authorized_keys of %s on %s" % (self.hop.user, self.hop.hostname)

    @property
    def private_key_path(self) -> Path:
        return Path(self.key.source).with_suffix("")


NEW_KEY_COMMENT = "edge-console"


def new_key_offer(hop: Hop) -> KeyOffer | None:
    """A fresh ed25519 pair for a laptop that has none, at ``hop``'s first identity file.

    None when an identity file exists already (a key of the person's own, only without its ``.pub``:
    it is not replaced) or when the hop names none."""
    if not hop.identity_files or any(Path(name).exists() for name in hop.identity_files):
        return None
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption())
    line = private.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    pub = public_key_file(Path(hop.identity_files[0]))
    key = parse_public_key("%s %s" % (line.decode("ascii"), NEW_KEY_COMMENT), str(pub))
    return KeyOffer(hop, key, pem)


def why_no_offer(hop: Hop) -> str:
    """Why a password login to ``hop`` brings no key offer (nor a new key): a key file of the person's
    own is there, without a usable public half; or the hop names no key file at all."""
    for name in hop.identity_files:
        if Path(name).exists():
            pub = public_key_file(Path(name))
            problem = "is not a usable OpenSSH public key" if pub.exists() else "is missing"
            return ("your key %s cannot be offered: its public half %s %s. Make it with ssh-keygen -y -f %s > %s, "
                    "then connect again to be offered the install" % (name, pub, problem, name, pub))
    return ("no key file is set for %s (IdentityFile) and ssh-agent holds no key: make one with ssh-keygen, "
            "then connect again to be offered the install" % hop.describe())


def save_new_key(offer: KeyOffer) -> None:
    """Write the offer's new pair: the private key 0600 (never over an existing file), ``.pub`` beside it."""
    if offer.new_private_key is None:
        return
    private = offer.private_key_path
    try:
        private.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(str(private), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(offer.new_private_key)
        Path(offer.key.source).write_text(offer.key.line + "\n", encoding="utf-8")
    except FileExistsError:
        raise KeyInstallError("%s appeared meanwhile and was left as it is; connect again to be offered "
                              "that key" % private) from None
    except OSError as exc:
        raise KeyInstallError("cannot save the new key in %s (%s); make that folder writable, or make a key "
                              "with ssh-keygen" % (private.parent, exc.strerror or exc)) from None


def parse_public_key(text: str, source: str) -> PublicKey:
    """An OpenSSH public key line (``type base64 [comment]``); raises KeyInstallError when it is not one."""
    parts = text.strip().split(None, 2)
    if len(parts) < 2:
        raise KeyInstallError("%s is not an OpenSSH public key (expected 'type base64 [comment]')" % source)
    key_type, blob = parts[0], parts[1]
    try:
        key = paramiko.PKey.from_type_string(key_type, base64.b64decode(blob, validate=True))
    except (binascii.Error, ValueError, paramiko.SSHException) as exc:
        raise KeyInstallError("%s is not a usable public key (%s)" % (source, exc)) from None
    return PublicKey(key_type, blob, parts[2].strip() if len(parts) > 2 else "", key.fingerprint, source)


def _from_pkey(key: paramiko.PKey, source: str, comment: str = "") -> PublicKey:
    return PublicKey(key.get_name(), key.get_base64(), comment, key.fingerprint, source)


def public_key_file(path: Path) -> Path:
    """``id_ed25519`` or ``id_ed25519.pub`` -> the ``.pub`` file."""
    return path if path.suffix == ".pub" else path.with_name(path.name + ".pub")


def load_public_key(path: Path) -> PublicKey:
    pub = public_key_file(path)
    try:
        return parse_public_key(pub.read_text(encoding="utf-8", errors="replace"), str(pub))
    except OSError as exc:
        raise KeyInstallError("cannot read %s: %s" % (pub, exc.strerror or exc)) from None


def find_public_key(hop: Hop, environ: Mapping[str, str], identities: Sequence[str] | None = None) -> PublicKey | None:
    """The key the console would log in to ``hop`` with, or None when the user has none."""
    for name in identities if identities is not None else hop.identity_files:
        pub = public_key_file(Path(name))
        if pub.is_file():
            try:
                return load_public_key(pub)
            except KeyInstallError:
                continue
    agent_path = environ.get("SSH_AUTH_SOCK")
    if agent_path and not hop.identities_only:
        try:
            agent = SocketAgent(agent_path)
        except (OSError, paramiko.SSHException):
            return None
        try:
            keys = agent.get_keys()
            if keys:
                return _from_pkey(keys[0], "ssh-agent", keys[0].comment or "")
        finally:
            agent.close()
    return None


def _key_id(line: str) -> tuple[str, str] | None:
    """(type, base64) of an authorized_keys line, options in front skipped; None for other lines."""
    parts = line.split()
    for i in range(len(parts) - 1):
        if parts[i].startswith(("ssh-", "ecdsa-", "sk-")) and len(parts[i + 1]) > 40:
            return parts[i], parts[i + 1]
    return None


def install_public_key(transport: paramiko.Transport, key: PublicKey) -> bool:
    """Append ``key`` to the login user's authorized_keys on the far side of ``transport``.
    False when it was there already. Raises KeyInstallError."""
    try:
        sftp = paramiko.SFTPClient.from_transport(transport)
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise KeyInstallError("the device refused SFTP (%s); add the key by hand: %s" % (exc, key.line)) from None
    if sftp is None:
        raise KeyInstallError("the device refused SFTP; add the key by hand: %s" % key.line)
    try:
        return _append(sftp, key)
    except PermissionError as exc:
        raise KeyInstallError("the device did not allow writing %s (%s)" % (AUTHORIZED_KEYS, exc)) from None
    except (OSError, paramiko.SSHException, EOFError) as exc:
        raise KeyInstallError("writing %s on the device failed: %s" % (AUTHORIZED_KEYS, exc)) from None
    finally:
        sftp.close()


def _append(sftp: paramiko.SFTPClient, key: PublicKey) -> bool:
    try:
        if not stat.S_ISDIR(sftp.stat(".ssh").st_mode or 0):
            raise KeyInstallError("~/.ssh on the device is not a directory; move it away and try again")
    except FileNotFoundError:
        sftp.mkdir(".ssh", 0o700)
        sftp.chmod(".ssh", 0o700)  # whatever the server's umask did
    existing = b""
    try:
        size = sftp.stat(AUTHORIZED_KEYS).st_size or 0
        if size > MAX_AUTHORIZED_KEYS_BYTES:
            raise KeyInstallError("~/.ssh/authorized_keys on the device is over 1 MB; check it by hand")
        with sftp.open(AUTHORIZED_KEYS, "rb") as handle:
            existing = handle.read()
    except FileNotFoundError:
        _create_private(sftp, AUTHORIZED_KEYS)
    wanted = (key.key_type, key.blob)
    if any(_key_id(line) == wanted for line in existing.decode("utf-8", "replace").splitlines()):
        return False
    text = key.line + "\n"
    if existing and not existing.endswith(b"\n"):
        text = "\n" + text
    # Append mode is O_APPEND on the device: one write lands after whatever is there at that instant.
    with sftp.open(AUTHORIZED_KEYS, "ab") as handle:
        handle.write(text.encode("utf-8"))
    return True


def _create_private(sftp: paramiko.SFTPClient, path: str) -> None:
    """Make an empty file readable by its owner only, unless someone made it meanwhile."""
    try:
        sftp.open(path, "xb").close()
    except OSError:
        return  # it exists now: append to it as it is
    sftp.chmod(path, 0o600)
