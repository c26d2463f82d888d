"""Host key checks: never trust a key nobody confirmed, never accept one that changed.

Two sources are read: the console's own ``known_hosts`` (the only file the console writes) and the
user's OpenSSH files (read-only, so keys confirmed with ``ssh`` are honoured). Lines follow the
OpenSSH format, hashed host names included, so the files stay interchangeable with OpenSSH.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from console.transport.ssh_errors import SshError
from device_runtime.fileio import replacing

if TYPE_CHECKING:  # paramiko is imported where a key is read: a command that reaches no SSH device never pays for it
    import paramiko

# Host key algorithms paramiko can negotiate, by the key type that known_hosts files record.
_ALGORITHMS_BY_TYPE = {
    "ssh-ed25519": ("ssh-ed25519",),
    "ecdsa-sha2-nistp256": ("ecdsa-sha2-nistp256",),
    "ecdsa-sha2-nistp384": ("ecdsa-sha2-nistp384",),
    "ecdsa-sha2-nistp521": ("ecdsa-sha2-nistp521",),
    "ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256"),
}


def host_id(host: str, port: int) -> str:
    """The name known_hosts files use: ``host`` on port 22, ``[host]:port`` elsewhere."""
    return host if port == 22 else "[%s]:%d" % (host, port)


class HostKeyError(SshError):
    retryable = False


class UnknownHostKey(HostKeyError):
    """Nobody has confirmed this host's key. Carries what a person needs to decide."""

    def __init__(self, host: str, key: paramiko.PKey, known_types: Sequence[str] = ()) -> None:
        self.host = host
        self.key = key
        self.key_type = key.get_name()
        self.fingerprint: str = key.fingerprint
        self.known_types = list(known_types)
        other = ""
        if self.known_types:
            other = " Keys of another type (%s) are already known for this host." % ", ".join(self.known_types)
        super().__init__(
            "the host key of %s is not known (%s %s).%s Check the fingerprint with the device's "
            "administrator (on the device: ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub), then trust it."
            % (host, self.key_type, self.fingerprint, other, _short_type(self.key_type))
        )


class HostKeyChanged(HostKeyError):
    """The host presented a different key than the one on record: refuse, say both fingerprints."""

    def __init__(self, host: str, key: paramiko.PKey, old_key: paramiko.PKey, source: Path,
                 console_file: bool) -> None:
        self.host = host
        self.key_type = key.get_name()
        self.old_fingerprint: str = old_key.fingerprint
        self.new_fingerprint: str = key.fingerprint
        self.source = source
        self.console_file = console_file
        if console_file:
            fix = "remove the old key (edgectl devices trust DEVICE --replace, or Trust in the console's device menu)"
        else:
            fix = "remove the old key with: ssh-keygen -R '%s' -f %s" % (host, source)
        super().__init__(
            "the host key of %s changed (was %s, now %s, %s). If the device was re-installed, %s and "
            "connect again. Otherwise do not connect: someone may be intercepting the connection."
            % (host, self.old_fingerprint, self.new_fingerprint, self.key_type, fix)
        )


def _short_type(key_type: str) -> str:
    return {"ssh-ed25519": "ed25519", "ssh-rsa": "rsa"}.get(key_type, "ecdsa")


@dataclass(frozen=True)
class KnownKey:
    key: paramiko.PKey
    source: Path


class HostKeyStore:
    """Reads the console's and the user's known_hosts on every check (they may change meanwhile)."""

    def __init__(self, console_file: Path, user_files: Sequence[Path] = ()) -> None:
        self.console_file = console_file
        self.user_files = list(user_files)

    def _files(self) -> list[Path]:
        return [self.console_file, *self.user_files]

    def known(self, host: str) -> dict[str, list[KnownKey]]:
        """Key type -> the keys on record for ``host`` (a :func:`host_id`), across all files."""
        import paramiko

        found: dict[str, list[KnownKey]] = {}
        for path in self._files():
            keys = paramiko.HostKeys()
            try:
                keys.load(str(path))
            except FileNotFoundError:
                continue
            except (OSError, paramiko.SSHException) as exc:
                raise HostKeyError("cannot read %s (%s); fix or move that file" % (path, exc)) from exc
            entry = keys.lookup(host)
            if entry is None:
                continue
            for key_type in entry:
                found.setdefault(key_type, []).append(KnownKey(entry[key_type], path))
        return found

    def preferred_algorithms(self, host: str, offered: Sequence[str]) -> list[str]:
        """``offered`` reordered so the types already on record come first, as OpenSSH does."""
        first: list[str] = []
        for key_type in self.known(host):
            first.extend(a for a in _ALGORITHMS_BY_TYPE.get(key_type, ()) if a in offered)
        return first + [a for a in offered if a not in first]

    def check(self, host: str, key: paramiko.PKey) -> None:
        """Return if the key is on record; raise :class:`UnknownHostKey` or :class:`HostKeyChanged`."""
        known = self.known(host)
        same_type = known.get(key.get_name(), [])
        if any(k.key == key for k in same_type):
            return
        if same_type:
            old = same_type[0]
            raise HostKeyChanged(host, key, old.key, old.source, old.source == self.console_file)
        raise UnknownHostKey(host, key, sorted(known))

    def trust(self, host: str, key: paramiko.PKey) -> None:
        """Append the key to the console's known_hosts (private to the user, flushed to disk)."""
        self.console_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        line = "%s %s %s\n" % (host, key.get_name(), key.get_base64())
        fd = os.open(str(self.console_file), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="ascii") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def forget(self, host: str) -> int:
        """Drop every console-file line for ``host``; returns how many went. User files are never edited."""
        try:
            lines = self.console_file.read_text(encoding="ascii").splitlines(keepends=True)
        except FileNotFoundError:
            return 0
        kept = [line for line in lines if not _line_matches(line, host)]
        if len(kept) == len(lines):
            return 0
        with replacing(self.console_file, mode=0o600, encoding="ascii") as handle:
            handle.writelines(kept)
        return len(lines) - len(kept)


def _line_matches(line: str, host: str) -> bool:
    import paramiko

    if not line.strip() or line.lstrip().startswith("#"):
        return False
    entry = paramiko.hostkeys.HostKeyEntry.from_line(line)
    if entry is None:
        return False
    for name in entry.hostnames:
        if name == host or (name.startswith("|1|") and paramiko.HostKeys.hash_host(host, name) == name):
            return True
    return False
