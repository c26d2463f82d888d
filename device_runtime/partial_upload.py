"""The daemon's one resumable, hashed upload: the model store's ``incoming/`` and the job files'
``uploads/`` both receive files through it.

A file is announced by its sha256 and size and grows in a partial file, appended by the daemon
from base64 chunks (hashed as they arrive) or written straight into the part by another writer
(SFTP, or the console on the same machine): a follower thread then hashes those bytes as they
land (:meth:`PartialUploads.follow`), and finish hashes only what it has not seen yet. Only
when the whole of it hashed to the announced sha256 does it become the final file: fsync,
rename, fsync of the directory. A write that fails truncates back to the last good offset, so
the sender resumes from there. A resumed part is hashed again from its start (read back from
the disk): bytes that rotted while the upload waited are never vouched for by an old hash.

Finishing a big file takes a while (about 0.05 to 0.3 s per 100 MB), so callers run
:meth:`PartialUploads.finish` on a worker thread; a lock per upload keeps a chunk and a finish
of the same upload apart.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from typing import Any, Callable, Dict, Optional

from device_runtime.fileio import WRITEBACK_SPAN, fsync_dir, start_writeback

CHUNK = 1 << 20
FOLLOW_IDLE_S = 30.0  # a follower stops when the part has not grown for this long (finish hashes the rest)
FOLLOW_POLL_MIN_S = 0.001
FOLLOW_POLL_MAX_S = 0.01

OFFSET = "offset"
TOO_LONG = "too-long"
MISSING = "missing"
INCOMPLETE = "incomplete"
DAMAGED = "damaged"


class UploadProblem(Exception):
    """An upload that cannot go on as asked; ``kind`` says why, ``received`` is what the device
    holds (the offset to resume from). Callers map it to their own error codes."""

    def __init__(self, kind: str, message: str, received: int = 0) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.received = received


class _Running:
    """The sha256 of a part's first ``hashed`` bytes, and the lock of that upload."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.digest: Any = hashlib.sha256()
        self.hashed = 0
        self.stop = threading.Event()  # set when the upload is finished or forgotten: its follower ends
        self.follower: Optional[threading.Thread] = None


class PartialUploads:
    """Partial files by path, with their running hashes (kept for this process's life; after a
    restart a finish hashes the part from its start)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: Dict[str, _Running] = {}
        # Called on the finishing thread before it reads the part: tests hold a finish here.
        self.before_hash: Optional[Callable[[str], None]] = None

    def _entry(self, part: str) -> _Running:
        with self._lock:
            entry = self._running.get(part)
            if entry is None:
                entry = self._running[part] = _Running()
            return entry

    def forget(self, part: str) -> None:
        with self._lock:
            entry = self._running.pop(part, None)
        if entry is not None:
            entry.stop.set()

    def follow(self, part: str, size: int) -> None:
        """Hash the part's bytes as another writer appends them (SFTP, or the console on this
        machine), on a thread of its own, so that finish has (almost) nothing left to read."""
        entry = self._entry(part)
        with entry.lock:
            if entry.follower is not None and entry.follower.is_alive():
                return
            entry.follower = threading.Thread(target=_follow, args=(part, entry, size), name="upload-hash",
                                              daemon=True)
            entry.follower.start()

    @staticmethod
    def received(part: str) -> int:
        """Bytes the part holds; -1 when there is no such upload."""
        try:
            return os.path.getsize(part)
        except FileNotFoundError:
            return -1

    def create(self, part: str, mode: int = 0o660) -> int:
        """Create the part if it is missing (group-writable: an operator in the runtime's group
        may append to it over SFTP); returns the offset the sender continues from. A part that
        already holds bytes is a resume: its running hash starts again from the disk's bytes."""
        fd = os.open(part, os.O_WRONLY | os.O_CREAT, mode)
        try:
            held = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if held:
            self.forget(part)
        return held

    def append(self, part: str, offset: int, data: bytes, size: int,
               before_write: Optional[Callable[[], None]] = None) -> int:
        """Write ``data`` at ``offset``, which must be the end of what arrived; returns the new end.
        An OSError leaves the part as it was before this chunk."""
        entry = self._entry(part)
        with entry.lock:
            current = self.received(part)
            if current < 0:
                raise UploadProblem(MISSING, "no upload in progress with that id: begin it again")
            if offset != current:
                raise UploadProblem(OFFSET, "offset %d does not match the %d bytes received: resume from %d"
                                    % (offset, current, current), current)
            if offset + len(data) > size:
                raise UploadProblem(TOO_LONG, "the upload is longer than the %d bytes announced" % size, current)
            if before_write is not None:
                before_write()
            fd = os.open(part, os.O_WRONLY | os.O_APPEND)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            except OSError:
                os.ftruncate(fd, offset)
                raise
            finally:
                os.close(fd)
            if entry.hashed == offset:
                entry.digest.update(data)
                entry.hashed = offset + len(data)
            return offset + len(data)

    def finish(self, part: str, final: str, sha256: str, size: int, what: str = "the upload",
               before_rename: Optional[Callable[[], None]] = None, mode: Optional[int] = None,
               hashed: Optional[str] = None, sync: bool = True) -> None:
        """Hash what arrived (only what the running hash has not seen), and on a match make it
        ``final`` durably (fsync, rename, fsync of the directory). A mismatch deletes the part and
        raises DAMAGED; a short part raises INCOMPLETE and is kept for a resume.

        ``sync=False`` leaves out the fsync of the file (the rename and the directory's fsync
        stay): for bytes another process already copied durably elsewhere, whose caller records
        that they may not be on disk and checks them after a power cut (see store.upload).

        ``hashed``: the sha256 another reader of this part computed over its ``size`` bytes as
        they arrived (the store's receiving child); when it is the announced one the bytes are
        not read again. Anything else is ignored and the part hashed here."""
        entry = self._entry(part)
        with entry.lock:
            got = self.received(part)
            if got < 0:
                raise UploadProblem(MISSING, "no upload in progress with that id: begin it again")
            if got != size:
                raise UploadProblem(INCOMPLETE, "%s has %d of %d bytes: resume from %d" % (what, got, size, got), got)
            if self.before_hash is not None:
                self.before_hash(part)
            digest = sha256 if hashed == sha256 else _hash_rest(part, entry, size)
            if digest != sha256:
                os.unlink(part)
                self.forget(part)
                raise UploadProblem(DAMAGED, "%s arrived damaged (sha256 %s, not the %s announced); it was deleted: "
                                             "send it again" % (what, digest[:16], sha256[:16]))
            if before_rename is not None:
                before_rename()
            if sync:
                fd = os.open(part, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            if mode is not None:
                os.chmod(part, mode)
            os.replace(part, final)
            fsync_dir(os.path.dirname(final) or ".")
            self.forget(part)


def _follow(part: str, entry: _Running, size: int) -> None:
    """The follower's loop: read what landed beyond the running hash and add it, until the part
    is whole, the upload is finished or forgotten, or nothing arrives for FOLLOW_IDLE_S."""
    try:
        fd = os.open(part, os.O_RDONLY)
    except OSError:
        return  # finish hashes it all
    on_disk = entry.hashed  # finish fsyncs the part: hand what was hashed to the disk as it goes
    try:
        wait, since = FOLLOW_POLL_MIN_S, time.monotonic()
        while not entry.stop.is_set():
            at = entry.hashed
            if at - on_disk >= WRITEBACK_SPAN:
                start_writeback(fd, on_disk, at - on_disk)
                on_disk = at
            if at >= size:
                return
            data = os.pread(fd, min(CHUNK, size - at), at)
            if not data:
                if time.monotonic() - since > FOLLOW_IDLE_S:
                    return
                entry.stop.wait(wait)
                wait = min(wait * 2, FOLLOW_POLL_MAX_S)
                continue
            wait, since = FOLLOW_POLL_MIN_S, time.monotonic()
            with entry.lock:
                if entry.hashed == at and not entry.stop.is_set():
                    entry.digest.update(data)
                    entry.hashed = at + len(data)
    except OSError:
        return
    finally:
        os.close(fd)


def _hash_rest(part: str, entry: _Running, size: int) -> str:
    """Extend the running hash with the part's bytes it has not seen (all of them after a
    restart, or when they came over SFTP); a copy, so a failed finish can be retried."""
    digest = entry.digest.copy()
    hashed = entry.hashed
    if hashed >= size:
        return str(digest.hexdigest())  # a follower hashed it all as it landed
    with open(part, "rb") as handle:
        handle.seek(hashed)
        while hashed < size:
            block = handle.read(min(CHUNK, size - hashed))
            if not block:
                break
            digest.update(block)
            hashed += len(block)
    entry.digest, entry.hashed = digest.copy(), hashed
    return str(digest.hexdigest())
