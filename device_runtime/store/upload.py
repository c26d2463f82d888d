"""Resumable uploads into ``<root>/incoming/``, hashed before anything imports them.

An upload is named by the sha256 the sender announces and received by the daemon's one upload
mechanism (:mod:`device_runtime.partial_upload`): bytes are appended at the offset the device
reports, so a dropped link resumes where it stopped; ``finish`` hashes what the running hash
has not seen and only then renames the part to ``<sha256>.tar.gz``. A full disk truncates back
to the last good offset and says how much room is missing.

Since protocol 3 an upload may instead be named by the sender (``digest_at_end``) and get its
sha256 with ``finish``: the sender hashes the bytes while it sends them, the device as they
arrive, and neither reads the file twice. The part is kept under the sender's name until the
sha256 given at the end matches every byte that arrived; a mismatch deletes it.

A package the store's receiving child followed as it arrived is renamed without an fsync: the
child staged its files and fsyncs those, and the import that follows removes the package, so a
deploy does not wait for the disk to take the same bytes twice. Its record says so first, and
:meth:`Incoming.check_unsynced` hashes such a package at the next start: a power cut can have
left it with the right name and the wrong bytes.

Uploads that nobody finishes or imports would hold disk space for ever: :meth:`Incoming.clean`
removes those untouched for longer than the configured age (at start-up and on a schedule).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from device_runtime import fileio, partial_upload
from device_runtime.engines.engine_meta import sha256_file
from device_runtime.package_format.errors import Code, StoreError, io_error
from device_runtime.partial_upload import PartialUploads, UploadProblem
from device_runtime.protocol import IncomingEntry
from device_runtime.store.config import reserve_bytes
from device_runtime.store.store import Store

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ENTRY = re.compile(r"^([0-9a-f]{64})\.(part|json|tar\.gz)$")
UNSYNCED = "unsynced"  # a record's key: its package was renamed without an fsync (checked at start-up)
_CODES = {partial_upload.MISSING: Code.NOT_FOUND, partial_upload.DAMAGED: Code.HASH_MISMATCH}


def _failure(problem: UploadProblem) -> StoreError:
    return StoreError(_CODES.get(problem.kind, Code.BAD_REQUEST), problem.message)


class Incoming:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.uploads = PartialUploads()
        # begin and clean never interleave: a resumed partial is touched before it can look stale.
        self._lock = threading.Lock()

    def _paths(self, upload_id: str) -> Tuple[str, str, str]:
        if not _SHA256.match(upload_id):
            raise StoreError(Code.BAD_REQUEST, "an upload is named by the package's sha256 (64 lowercase hex digits)")
        base = self.store.path("incoming", upload_id)
        return base + ".part", base + ".json", base + ".tar.gz"

    def part_path(self, upload_id: str) -> str:
        return self._paths(upload_id)[0]

    def received(self, upload_id: str) -> int:
        """Bytes the upload's part holds; -1 when there is none."""
        return self.uploads.received(self._paths(upload_id)[0])

    def begin(self, sha256: str, size: int, filename: str = "", digest_at_end: bool = False) -> int:
        """Start or resume; returns the offset the sender must continue from. ``digest_at_end``:
        ``sha256`` is the sender's name for the upload and the real one comes with finish."""
        part, meta, final = self._paths(sha256)
        cfg = self.store.config()
        if not 0 < size <= cfg.max_package_bytes:
            raise StoreError(Code.BAD_REQUEST, "a package must be 1 byte to %d MB" % (cfg.max_package_bytes // 10**6))
        with self._lock:
            if os.path.exists(final) and not digest_at_end:
                os.utime(final)  # wanted again: not abandoned
                return size
            if os.path.exists(part) and os.path.exists(meta):
                record = _record(meta)
                if bool(record.get("digest_at_end")) == digest_at_end and record.get("size") == size:
                    os.utime(part)  # a resume: the age of a partial counts from its last use
                    self.uploads.forget(part)  # its bytes are hashed again from the disk
                    return os.path.getsize(part)
                self.uploads.forget(part)  # the same name for another upload: it starts over
                _unlink(part)
            free = fileio.free_bytes(self.store.path("incoming"))
            margin = reserve_bytes(cfg, self.store.path("incoming"))
            if free < size + margin:
                raise StoreError(Code.NO_SPACE, "not enough disk space to receive %s: it is %.1f MB and %.1f MB are "
                                                "free (%.1f MB are kept in reserve). Free space on the device and try "
                                                "again." % (filename or "the package", size / 1e6, free / 1e6,
                                                            margin / 1e6))
            record = {"sha256": sha256, "size": size, "filename": filename, "started": time.time()}
            if digest_at_end:
                record = {"sha256": None, "name": sha256, "digest_at_end": True, "size": size, "filename": filename,
                          "started": time.time()}
            fileio.write_atomic(meta, json.dumps(record).encode(), 0o644)
            offset = self.uploads.create(part)
            fileio.fsync_dir(self.store.path("incoming"))
            return offset

    def _expected_size(self, meta: str) -> int:
        try:
            with open(meta, "rb") as handle:
                return int(json.loads(handle.read().decode())["size"])
        except (OSError, ValueError, KeyError, TypeError):
            raise StoreError(Code.NOT_FOUND, "no upload in progress with that id: start it again") from None

    def append(self, upload_id: str, offset: int, data: bytes) -> int:
        part, meta, _final = self._paths(upload_id)
        size = self._expected_size(meta)
        try:
            return self.uploads.append(part, offset, data, size, lambda: self.store.fault("upload.append"))
        except UploadProblem as exc:
            raise _failure(exc) from None
        except OSError as exc:
            raise io_error("receiving the upload (kept %.1f MB, it resumes from there)" % (offset / 1e6),
                                  exc, part) from None

    def digest_at_end(self, upload_id: str) -> bool:
        """Whether this upload was begun with its sha256 to come at the end (protocol 3)."""
        return bool(_record(self._paths(upload_id)[1]).get("digest_at_end"))

    def finish(self, upload_id: str, hashed: Optional[str] = None, sha256: Optional[str] = None,
               sync: bool = True) -> str:
        """Hash what arrived; on a match the package is ready to import at the returned path.
        Takes a while for a big package: the daemon calls it off its event loop. ``hashed`` is
        the sha256 a reader computed as the bytes arrived, if any (see PartialUploads.finish);
        ``sha256`` the sender's, given at the end (required when the upload was begun so).

        ``sync=False``: the package is not fsync'd. Its record says so before it gets its final
        name, and :meth:`check_unsynced` hashes it again at the next start; the import that
        follows at once removes it, so its bytes need never reach the disk (the store's own copy
        of the files is fsync'd)."""
        part, meta, final = self._paths(upload_id)
        if self.digest_at_end(upload_id):
            if sha256 is None or not _SHA256.match(sha256):
                raise StoreError(Code.BAD_REQUEST, "this upload was begun with its sha256 to come at the end: "
                                                   "finish it with the sha256 of what was sent")
            return self._finish_named(upload_id, sha256, hashed, sync)
        if sha256 is not None and sha256 != upload_id:
            raise StoreError(Code.BAD_REQUEST, "the sha256 given at the end (%s) is not the one the upload was begun "
                                               "with (%s): begin it again" % (sha256[:16], upload_id[:16]))
        if os.path.exists(final):
            return final
        size = self._expected_size(meta)

        def before_rename() -> None:
            self.store.fault("upload.finish")
            if not sync:
                _write_record(meta, {**_record(meta), UNSYNCED: True})

        try:
            self.uploads.finish(part, final, upload_id, size, "the upload", before_rename=before_rename,
                                hashed=hashed, sync=sync)
        except UploadProblem as exc:
            if exc.kind == partial_upload.DAMAGED:
                _unlink(meta)
            raise _failure(exc) from None
        return final  # its record stays with it: edgectl df names what it is

    def _finish_named(self, name: str, sha256: str, hashed: Optional[str], sync: bool) -> str:
        """An upload named by its sender: verified against the sha256 given now, then it becomes
        ``<sha256>.tar.gz`` with its record (or goes, when the device holds that package already).
        The record gets its final name first: a package under its final name always has one."""
        part, meta, _final = self._paths(name)
        _part, final_meta, final = self._paths(sha256)
        size = self._expected_size(meta)
        record = {**_record(meta), "sha256": sha256, "digest_at_end": False}
        if not sync:
            record[UNSYNCED] = True

        def before_rename() -> None:
            self.store.fault("upload.finish")
            _write_record(final_meta, record)

        try:
            self.uploads.finish(part, final, sha256, size, "the upload", before_rename=before_rename,
                                hashed=hashed, sync=sync)
        except UploadProblem as exc:
            if exc.kind == partial_upload.DAMAGED:
                _unlink(meta)
            raise _failure(exc) from None
        with self._lock:
            _unlink(meta)
            fileio.fsync_dir(self.store.path("incoming"))
        return final

    def check_unsynced(self) -> List[str]:
        """At start-up: hash every received package that was not fsync'd (see :meth:`finish`).
        One whose bytes still match its name is fsync'd and kept; one a power cut damaged is
        removed, so nothing imports it or takes it for the package a sender offers again.
        Returns what it did, in words."""
        directory = self.store.path("incoming")
        notes: List[str] = []
        with self._lock:
            for entry in sorted(os.listdir(directory)):
                match = _ENTRY.match(entry)
                if match is None or match.group(2) != "json":
                    continue
                meta = os.path.join(directory, entry)
                record = _record(meta)
                final = os.path.join(directory, match.group(1) + ".tar.gz")
                if not record.get(UNSYNCED) or not os.path.isfile(final):
                    continue
                if sha256_file(final) == match.group(1):
                    fileio.fsync_file(final)
                    record.pop(UNSYNCED)
                    _write_record(meta, record)
                    notes.append("kept %s in incoming/: received just before the runtime stopped, its bytes still "
                                 "match" % (match.group(1) + ".tar.gz"))
                else:
                    _unlink(final)
                    _unlink(meta)
                    fileio.fsync_dir(directory)
                    notes.append("removed %s from incoming/: received just before the runtime stopped, its bytes did "
                                 "not reach the disk whole (send the package again)" % (match.group(1) + ".tar.gz"))
        return notes

    def finished_id(self, path: str) -> Optional[str]:
        """The upload id of a finished upload's path in incoming/, None for any other path."""
        if os.path.dirname(os.path.abspath(path)) != self.store.path("incoming"):
            return None
        match = _ENTRY.match(os.path.basename(path))
        if match is None or match.group(2) != "tar.gz" or not os.path.isfile(path):
            return None
        return match.group(1)

    def entries(self, now: Optional[float] = None) -> List[IncomingEntry]:
        """The uploads in incoming/: partials (resumable) and received packages not imported yet."""
        now = time.time() if now is None else now
        directory = self.store.path("incoming")
        found: List[IncomingEntry] = []
        with self._lock:
            for entry in sorted(os.listdir(directory)):
                match = _ENTRY.match(entry)
                if match is None or match.group(2) == "json":
                    continue
                path = os.path.join(directory, entry)
                try:
                    st = os.lstat(path)
                except FileNotFoundError:
                    continue
                record = _record(os.path.join(directory, match.group(1) + ".json"))
                found.append(IncomingEntry(
                    match.group(1), "partial" if match.group(2) == "part" else "received", st.st_size,
                    int(record.get("size") or st.st_size), max(0.0, now - st.st_mtime),
                    str(record.get("filename") or "")))
        return found

    def remove(self, upload_id: str) -> int:
        """Take one upload (partial or received) out of incoming/; returns the bytes freed."""
        part, meta, final = self._paths(upload_id)
        freed = 0
        with self._lock:
            self.uploads.forget(part)
            for path in (part, meta, final):
                try:
                    freed += os.lstat(path).st_size
                    os.unlink(path)
                except FileNotFoundError:
                    continue
            fileio.fsync_dir(self.store.path("incoming"))
        if not freed and not os.path.exists(meta):
            raise StoreError(Code.NOT_FOUND, "no upload %s in incoming/: see edgectl df" % upload_id[:16])
        return freed

    def discard(self, path: str) -> None:
        """Remove an imported package from incoming/ (its contents now live in models/)."""
        upload_id = self.finished_id(path)
        if upload_id is not None:
            _unlink(path)
            _unlink(self.store.path("incoming", upload_id + ".json"))

    def clean(self, max_age_s: float, now: Optional[float] = None) -> List[str]:
        """Remove abandoned uploads: partials (with their records) and received packages nobody
        imported, untouched for ``max_age_s``, and temporary files of interrupted writes. An
        upload being written or resumed is younger than that and stays. Returns what went, in words."""
        now = time.time() if now is None else now
        directory = self.store.path("incoming")
        notes: List[str] = []
        with self._lock:
            for entry in sorted(os.listdir(directory)):
                path = os.path.join(directory, entry)
                try:
                    st = os.lstat(path)
                except FileNotFoundError:
                    continue
                age = now - st.st_mtime
                if age < max_age_s:
                    continue
                match = _ENTRY.match(entry)
                if match is None and not entry.startswith(fileio.TMP_PREFIX):
                    continue  # not ours: leave it to whoever put it there
                if match is not None and match.group(2) == "json" and (
                        os.path.exists(path[:-5] + ".part") or os.path.exists(path[:-5] + ".tar.gz")):
                    continue  # the record goes with its upload
                self.store.fault("cleanup.remove")
                if match is not None and match.group(2) != "json":
                    if match.group(2) == "part":
                        self.uploads.forget(path)
                    _unlink(os.path.join(directory, match.group(1) + ".json"))
                _unlink(path)
                notes.append("removed %s from incoming/: %s, %.1f MB, untouched for %.1f h" % (
                    entry, _kind(entry), st.st_size / 1e6, age / 3600))
            if notes:
                fileio.fsync_dir(directory)
        return notes


def _kind(entry: str) -> str:
    if entry.endswith(".part"):
        return "an upload that never finished"
    if entry.endswith(".tar.gz"):
        return "a received package that was never imported"
    return "a leftover record"


def _write_record(meta: str, record: Dict[str, Any]) -> None:
    fileio.write_atomic(meta, json.dumps(record).encode(), 0o644)


def _record(meta: str) -> Dict[str, Any]:
    try:
        with open(meta, "rb") as handle:
            data = json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
