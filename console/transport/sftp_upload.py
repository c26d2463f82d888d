"""Resumable, verified uploads over SFTP.

A file goes to ``<dir>/.<name>.<sha256 prefix>.part`` with pipelined writes, and becomes
``<dir>/<name>`` only after the device itself computed the same sha256 (an atomic rename). An
interrupted upload continues from the bytes already there, once their hash matches the local
file's prefix; a partial or finished file whose hash does not match is deleted, never used.
"""

from __future__ import annotations

import hashlib
import posixpath
import shlex
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paramiko

from console.transport.base import TransportError
from console.transport.ssh_connection import SshConnection

CHUNK = 1 << 20  # read size; paramiko splits it into 32 KiB pipelined SFTP writes
PROGRESS_INTERVAL_S = 0.1
# SFTP write size. paramiko sends 32 KiB writes; OpenSSH's sftp-server takes messages up to 256 KiB
# (its limits@openssh.com reply says 261120-byte writes), and fewer, larger requests halve the
# Python work per byte on the laptop. SSH itself still splits them into the channel's packets.
WRITE_SIZE = 255 * 1024


class UploadError(TransportError):
    """The upload failed; the message says whether anything was kept for a resume."""


class UploadCorrupted(UploadError):
    """What arrived on the device is not the file that was sent; it was deleted."""


@dataclass(frozen=True)
class UploadProgress:
    sent: int
    total: int
    elapsed_s: float
    resumed_from: int

    @property
    def rate_bps(self) -> float:
        """Bytes per second sent in this run (resumed bytes excluded)."""
        return (self.sent - self.resumed_from) / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        rate = self.rate_bps
        return (self.total - self.sent) / rate if rate > 0 else None


@dataclass(frozen=True)
class UploadResult:
    remote_path: str
    size: int
    sha256: str
    resumed_from: int
    discarded_partial: bool
    seconds: float


ProgressFn = Callable[[UploadProgress], None]


def file_sha256(path: Path, limit: int | None = None) -> str:
    digest = hashlib.sha256()
    left = limit
    with path.open("rb") as handle:
        while left is None or left > 0:
            block = handle.read(CHUNK if left is None else min(CHUNK, left))
            if not block:
                break
            digest.update(block)
            if left is not None:
                left -= len(block)
    return digest.hexdigest()


def remote_sha256(conn: SshConnection, path: str) -> str:
    """Hash a file on the device (coreutils, or its Python where coreutils lacks sha256sum)."""
    quoted = shlex.quote(path)
    script = ("if command -v sha256sum >/dev/null 2>&1; then sha256sum -- %s; else python3 -c "
              "'import hashlib,sys;h=hashlib.sha256();f=open(sys.argv[1],\"rb\")\n"
              "for b in iter(lambda: f.read(1<<20), b\"\"): h.update(b)\nprint(h.hexdigest())' %s; fi"
              % (quoted, quoted))
    result = conn.run("sh -c %s" % shlex.quote(script), timeout_s=600)
    words = result.stdout.decode("ascii", "replace").split()
    if result.code != 0 or not words or len(words[0]) != 64:
        raise UploadError("cannot hash %s on the device: %s" % (path, result.stderr.decode("utf-8", "replace")
                                                                 .strip() or "exit code %d" % result.code))
    return words[0]


def _makedirs(sftp: paramiko.SFTPClient, path: str) -> None:
    parts = [p for p in path.split("/") if p]
    current = "/" if path.startswith("/") else ""
    for part in parts:
        current = posixpath.join(current, part) if current else part
        try:
            if not stat.S_ISDIR(sftp.stat(current).st_mode or 0):
                raise UploadError("%s on the device is not a directory" % current)
        except FileNotFoundError:
            sftp.mkdir(current, 0o700)


def _remove(sftp: paramiko.SFTPClient, path: str) -> None:
    try:
        sftp.remove(path)
    except FileNotFoundError:
        pass


def upload(conn: SshConnection, local: Path, remote_dir: str, name: str | None = None,
           progress: ProgressFn | None = None, clock: Callable[[], float] = time.monotonic) -> UploadResult:
    """Send ``local`` to ``remote_dir/name`` on the device, resuming a partial upload of the same file."""
    start = clock()
    name = name or local.name
    if "/" in name or name in ("", ".", ".."):
        raise UploadError("%r is not a plain file name" % name)
    total = local.stat().st_size
    digest = file_sha256(local)
    final = posixpath.join(remote_dir, name)
    partial = posixpath.join(remote_dir, ".%s.%s.part" % (name, digest[:16]))
    sftp = conn.sftp()
    try:
        _makedirs(sftp, remote_dir)
        offset, discarded = _resume_point(conn, sftp, local, partial, total)
        _send(sftp, local, partial, offset, total, progress, clock, start)
        size = sftp.stat(partial).st_size
        if size != total:
            raise UploadError("the device holds %s of %d bytes of %s; upload again to resume" % (size, total, name))
        arrived = remote_sha256(conn, partial)
        if arrived != digest:
            _remove(sftp, partial)
            raise UploadCorrupted(
                "%s arrived damaged (sha256 on the device %s, sent %s, or the file changed while it was sent); "
                "it was deleted. Upload it again." % (name, arrived, digest))
        sftp.posix_rename(partial, final)
    except (OSError, EOFError, paramiko.SSHException) as exc:
        raise UploadError("upload of %s stopped: %s. What arrived is kept; upload again to resume."
                          % (name, exc)) from exc
    finally:
        sftp.close()
    return UploadResult(final, total, digest, offset, discarded, clock() - start)


def _resume_point(conn: SshConnection, sftp: paramiko.SFTPClient, local: Path, partial: str,
                  total: int) -> tuple[int, bool]:
    """Bytes already on the device that can be trusted, and whether a bad partial was thrown away."""
    try:
        have = sftp.stat(partial).st_size or 0
    except FileNotFoundError:
        return 0, False
    if 0 < have <= total and remote_sha256(conn, partial) == file_sha256(local, have):
        return have, False
    _remove(sftp, partial)
    return 0, have > 0


def write_size(sftp: paramiko.SFTPClient) -> int:
    """Large writes to OpenSSH's sftp-server (every robot we know runs it); paramiko's default
    elsewhere, as another server may refuse messages over 32 KiB."""
    channel = sftp.get_channel()
    transport = channel.get_transport() if channel is not None else None
    banner = transport.remote_version if transport is not None else ""
    return WRITE_SIZE if "OpenSSH" in banner else paramiko.SFTPFile.MAX_REQUEST_SIZE


def _send(sftp: paramiko.SFTPClient, local: Path, partial: str, offset: int, total: int,
          progress: ProgressFn | None, clock: Callable[[], float], start: float) -> None:
    sent = offset
    last_report = 0.0
    with local.open("rb") as source, sftp.open(partial, "r+b" if offset else "wb") as target:
        target.set_pipelined(True)
        target.MAX_REQUEST_SIZE = write_size(sftp)
        source.seek(offset)
        target.seek(offset)
        while True:
            block = source.read(CHUNK)
            if not block:
                break
            target.write(block)
            sent += len(block)
            now = clock()
            if progress is not None and (now - last_report >= PROGRESS_INTERVAL_S or sent == total):
                last_report = now
                progress(UploadProgress(sent, total, now - start, offset))
    if progress is not None and total == 0:
        progress(UploadProgress(0, 0, clock() - start, 0))


class SftpSink:
    """Pipelined SFTP writes into a partial file on the device that another party (the device's
    store) created, verifies and renames; raises UploadError when it cannot."""

    def __init__(self, conn: SshConnection, remote: str, offset: int) -> None:
        self.conn = conn
        self.remote = remote
        self._lost = False  # set when a write or close failed because the link or its SFTP channel went away
        self._sftp = conn.sftp()
        try:
            self._file = self._sftp.open(remote, "r+b")
            self._file.set_pipelined(True)
            self._file.MAX_REQUEST_SIZE = write_size(self._sftp)
            self._file.seek(offset)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            self._sftp.close()
            raise UploadError("cannot write %s over SFTP: %s" % (remote, exc)) from exc

    def write(self, data: bytes | memoryview) -> None:
        try:
            self._file.write(bytes(data) if isinstance(data, memoryview) else data)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            self._lost = self._link_failed(exc)
            self.abandon()
            raise UploadError("sending over SFTP stopped: %s" % exc) from exc

    def close(self) -> None:
        """Waits until the device acknowledged every write."""
        try:
            self._file.close()
        except (OSError, EOFError, paramiko.SSHException) as exc:
            self._lost = self._link_failed(exc)
            raise UploadError("sending over SFTP stopped: %s" % exc) from exc
        finally:
            self._sftp.close()

    def _link_failed(self, exc: BaseException) -> bool:
        """Whether ``exc`` came from the link rather than from the device's SFTP server. Judged
        before this side closes anything: when a link drops, paramiko closes its channels first and
        marks the connection inactive a moment later, so the connection alone may still look alive."""
        if isinstance(exc, (EOFError, paramiko.SSHException)):
            return True
        channel = self._sftp.get_channel()
        return channel is None or channel.closed or bool(channel.eof_received) or not self.conn.is_active()

    def abandon(self) -> None:
        """Close the SFTP session without waiting for the writes in flight (after a failure)."""
        try:
            self._sftp.close()
        except (OSError, EOFError, paramiko.SSHException):
            pass

    def alive(self) -> bool:
        """Whether the link still carries requests (a failure of the SFTP server alone leaves it
        so: the bytes may go another way); False once a write failed because the link went."""
        return not self._lost and self.conn.is_active()


def send_from(conn: SshConnection, local: Path, remote: str, offset: int, total: int,
              progress: ProgressFn | None = None, clock: Callable[[], float] = time.monotonic) -> None:
    """Append ``local[offset:]`` to an existing partial file on the device that another party
    (the device's store) created, verifies and renames; raises UploadError when it cannot."""
    sftp = conn.sftp()
    try:
        _send(sftp, local, remote, offset, total, progress, clock, clock())
    except (OSError, EOFError, paramiko.SSHException) as exc:
        raise UploadError("sending %s over SFTP stopped: %s" % (local.name, exc)) from exc
    finally:
        sftp.close()
