"""Files a console sends for jobs (models, calibration data, golden cases): content-addressed
under ``<root>/uploads/<sha256>/<name>``, resumable, hashed before use.

The console appends to the partial file over SFTP when it reaches the device over SSH (the part
is group-writable for operators in the runtime's group), or sends base64 chunks otherwise. A
file sent twice is stored once. Uploads older than a week are removed at start-up.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import os
import re
import shutil
import time
from typing import Dict, Tuple

from device_runtime.protocol import (
    STORE_UPLOAD_CHUNK,
    ErrorCode,
    ProtocolError,
    Record,
    StoreActionRef,
    StoreUploadBegin,
    StoreUploadChunk,
    StoreUploadState,
)
from device_runtime.server.service import Handler, Service

log = logging.getLogger("edge_runtime.files")

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_FILE_BYTES = 8 << 30
SPACE_MARGIN_BYTES = 200 << 20
KEEP_S = 7 * 86400.0


def _bad(message: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_FIELD, message)


class FileService(Service):
    name = "files"

    def __init__(self, root: str) -> None:
        self.base = os.path.join(root, "uploads")
        self._names: Dict[str, str] = {}

    def handlers(self) -> Dict[str, Handler]:
        return {"files.begin": self._begin, "files.chunk": self._chunk, "files.finish": self._finish}

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._clean_old()

    def _paths(self, sha256: str, name: str) -> Tuple[str, str]:
        folder = os.path.join(self.base, sha256)
        return os.path.join(folder, "." + name + ".part"), os.path.join(folder, name)

    @staticmethod
    def _check(sha256: str, name: str) -> None:
        if not _SHA256.match(sha256):
            raise _bad("a file is named by its sha256 (64 lowercase hex digits)")
        if not name or "/" in name or "\0" in name or name in (".", "..") or name.startswith(".") or len(name) > 200:
            raise _bad("%r is not a plain file name" % name[:80])

    def _begin(self, params: Record) -> Record:
        assert isinstance(params, StoreUploadBegin)
        self._check(params.sha256, params.filename)
        if not 0 <= params.size <= MAX_FILE_BYTES:
            raise _bad("a file must be at most %d GB" % (MAX_FILE_BYTES >> 30))
        part, final = self._paths(params.sha256, params.filename)
        self._names[params.sha256] = params.filename
        if os.path.exists(final):
            return StoreUploadState(params.sha256, params.size, params.size, path=final)
        folder = os.path.dirname(part)
        os.makedirs(folder, mode=0o770, exist_ok=True)
        if not os.path.exists(part):
            free = shutil.disk_usage(folder).free
            if free < params.size + SPACE_MARGIN_BYTES:
                raise ProtocolError(ErrorCode.FAILED, "not enough disk space on the device for %s: it is %.1f MB and "
                                    "%.1f MB are free; free some space and send it again"
                                    % (params.filename, params.size / 1e6, free / 1e6))
            os.close(os.open(part, os.O_WRONLY | os.O_CREAT, 0o660))
        return StoreUploadState(params.sha256, os.path.getsize(part), params.size, part=part)

    def _name(self, sha256: str) -> str:
        name = self._names.get(sha256)
        if name is None:
            raise ProtocolError(ErrorCode.FAILED, "no file upload %s in progress: begin it again" % sha256[:16])
        return name

    def _chunk(self, params: Record) -> Record:
        assert isinstance(params, StoreUploadChunk)
        part, _ = self._paths(params.id, self._name(params.id))
        try:
            data = base64.b64decode(params.data, validate=True)
        except (binascii.Error, ValueError):
            raise _bad("a file chunk must be base64") from None
        if len(data) > STORE_UPLOAD_CHUNK:
            raise _bad("a file chunk holds at most %d bytes" % STORE_UPLOAD_CHUNK)
        current = os.path.getsize(part)
        if params.offset != current:
            raise _bad("offset %d does not match the %d bytes received: resume from %d"
                       % (params.offset, current, current))
        fd = os.open(part, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, data)
        except OSError as exc:
            os.ftruncate(fd, current)
            raise ProtocolError(ErrorCode.FAILED, "the device could not store the file: %s" % exc.strerror) from None
        finally:
            os.close(fd)
        return StoreUploadState(params.id, current + len(data), 0, part=part)

    def _finish(self, params: Record) -> Record:
        assert isinstance(params, StoreActionRef)
        name = self._name(params.id)
        part, final = self._paths(params.id, name)
        if os.path.exists(final):
            return StoreUploadState(params.id, os.path.getsize(final), os.path.getsize(final), path=final)
        digest = hashlib.sha256()
        with open(part, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != params.id:
            os.unlink(part)
            raise ProtocolError(ErrorCode.FAILED, "%s arrived damaged (sha256 %s, not the %s announced); it was "
                                "deleted: send it again" % (name, digest.hexdigest()[:16], params.id[:16]))
        os.chmod(part, 0o640)
        os.replace(part, final)
        size = os.path.getsize(final)
        return StoreUploadState(params.id, size, size, path=final)

    def _clean_old(self) -> None:
        cutoff = time.time() - KEEP_S
        try:
            entries = os.listdir(self.base)
        except FileNotFoundError:
            return
        for entry in entries:
            folder = os.path.join(self.base, entry)
            try:
                if os.path.getmtime(folder) < cutoff:
                    shutil.rmtree(folder)
                    log.info("removed an upload older than a week: %s", entry[:16])
            except OSError:
                continue
