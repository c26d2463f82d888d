"""Resumable uploads into ``<root>/incoming/``, hashed before anything imports them.

An upload is named by the sha256 the sender announces. Bytes are appended at the offset the
device reports, so a dropped link resumes where it stopped; ``finish`` hashes the whole file
and only then renames it to ``<sha256>.tar.gz``. A full disk truncates back to the last good
offset and says how much room is missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from typing import Any, Dict, Tuple

from device_runtime.store import fsutil
from device_runtime.store.errors import Code, StoreError
from device_runtime.store.store import Store

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 20


class Incoming:
    def __init__(self, store: Store) -> None:
        self.store = store
        # upload id -> (bytes hashed, running sha256): finish need not re-read what arrived
        self._running: Dict[str, Tuple[int, Any]] = {}

    def _paths(self, upload_id: str) -> Tuple[str, str, str]:
        if not _SHA256.match(upload_id):
            raise StoreError(Code.BAD_REQUEST, "an upload is named by the package's sha256 (64 lowercase hex digits)")
        base = self.store.path("incoming", upload_id)
        return base + ".part", base + ".json", base + ".tar.gz"

    def part_path(self, upload_id: str) -> str:
        return self._paths(upload_id)[0]

    def begin(self, sha256: str, size: int, filename: str = "") -> int:
        """Start or resume; returns the offset the sender must continue from."""
        part, meta, final = self._paths(sha256)
        cfg = self.store.config()
        if not 0 < size <= cfg.max_package_bytes:
            raise StoreError(Code.BAD_REQUEST, "a package must be 1 byte to %d MB" % (cfg.max_package_bytes // 10**6))
        if os.path.exists(final):
            return size
        if os.path.exists(part):
            return os.path.getsize(part)
        free = fsutil.free_bytes(self.store.path("incoming"))
        if free < size + cfg.space_margin_bytes:
            raise StoreError(Code.NO_SPACE, "not enough disk space to receive %s: it is %.1f MB and %.1f MB are free "
                                            "(%.0f MB are kept in reserve). Free space on the device and try again."
                             % (filename or "the package", size / 1e6, free / 1e6, cfg.space_margin_bytes / 1e6))
        record = {"sha256": sha256, "size": size, "filename": filename, "started": time.time()}
        fsutil.write_atomic(meta, json.dumps(record).encode())
        # Group-writable: an operator in the runtime's group may append to it over SFTP.
        fd = os.open(part, os.O_WRONLY | os.O_CREAT, 0o660)
        os.close(fd)
        fsutil.fsync_dir(self.store.path("incoming"))
        return 0

    def _expected_size(self, meta: str) -> int:
        try:
            with open(meta, "rb") as handle:
                return int(json.loads(handle.read().decode())["size"])
        except (OSError, ValueError, KeyError, TypeError):
            raise StoreError(Code.NOT_FOUND, "no upload in progress with that id: start it again") from None

    def append(self, upload_id: str, offset: int, data: bytes) -> int:
        part, meta, _final = self._paths(upload_id)
        size = self._expected_size(meta)
        current = os.path.getsize(part) if os.path.exists(part) else -1
        if current < 0:
            raise StoreError(Code.NOT_FOUND, "no upload in progress with that id: start it again")
        if offset != current:
            raise StoreError(Code.BAD_REQUEST, "upload offset %d does not match the %d bytes received: resume from %d"
                             % (offset, current, current))
        if offset + len(data) > size:
            raise StoreError(Code.BAD_REQUEST, "the upload is longer than the %d bytes announced" % size)
        self.store.fault("upload.append")
        fd = os.open(part, os.O_WRONLY | os.O_APPEND)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        except OSError as exc:
            os.ftruncate(fd, offset)
            raise fsutil.io_error("receiving the upload (kept %.1f MB, it resumes from there)" % (offset / 1e6),
                                  exc, part) from None
        finally:
            os.close(fd)
        hashed, digest = self._running.get(upload_id, (0, hashlib.sha256()))
        if hashed == offset:
            digest.update(data)
            self._running[upload_id] = (offset + len(data), digest)
        return offset + len(data)

    def finish(self, upload_id: str) -> str:
        """Hash what arrived; on a match the package is ready to import at the returned path."""
        part, meta, final = self._paths(upload_id)
        if os.path.exists(final):
            return final
        size = self._expected_size(meta)
        got = os.path.getsize(part)
        if got != size:
            raise StoreError(Code.BAD_REQUEST, "the upload has %d of %d bytes: resume from %d" % (got, size, got))
        hashed, digest = self._running.pop(upload_id, (-1, None))
        if hashed != size or digest is None:  # resumed after a restart: hash what is on disk
            digest = hashlib.sha256()
            with open(part, "rb") as handle:
                for block in iter(lambda: handle.read(CHUNK), b""):
                    digest.update(block)
        if digest.hexdigest() != upload_id:
            os.unlink(part)
            os.unlink(meta)
            raise StoreError(Code.HASH_MISMATCH, "the uploaded bytes have sha256 %s, not the %s announced: the copy "
                                                 "was damaged on the way; upload again"
                             % (digest.hexdigest()[:16], upload_id[:16]))
        self.store.fault("upload.finish")
        fd = os.open(part, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(part, final)
        fsutil.fsync_dir(self.store.path("incoming"))
        os.unlink(meta)
        return final

    def discard(self, path: str) -> None:
        """Remove an imported package from incoming/ (its contents now live in models/)."""
        if os.path.dirname(os.path.abspath(path)) == self.store.path("incoming"):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
