"""Files a console sends for jobs (models, calibration data, golden cases): content-addressed
under ``<root>/uploads/<sha256>/<name>``, resumable, hashed before use.

The console appends to the partial file over SFTP when it reaches the device over SSH (the part
is group-writable for operators in the runtime's group), or sends base64 chunks otherwise; the
receiving, hashing and renaming are the daemon's one upload mechanism
(:mod:`device_runtime.partial_upload`), shared with the model store. A file sent twice is stored
once. Uploads older than a week are removed at start-up.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import os
import re
import shutil
import time
from typing import Dict, Tuple

from device_runtime import partial_upload
from device_runtime.package_format.errors import Code, io_error
from device_runtime.partial_upload import PartialUploads, UploadProblem
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
from device_runtime.server.deferred import Deferred
from device_runtime.server.service import Handler, Service

log = logging.getLogger("edge_runtime.files")

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_FILE_BYTES = 8 << 30
SPACE_MARGIN_BYTES = 200 << 20
KEEP_S = 7 * 86400.0


def _bad(message: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_FIELD, message)


_CODES = {partial_upload.MISSING: Code.NOT_FOUND, partial_upload.DAMAGED: Code.HASH_MISMATCH}


def _problem(problem: UploadProblem) -> ProtocolError:
    if problem.kind in (partial_upload.OFFSET, partial_upload.TOO_LONG):
        return _bad(problem.message)
    return ProtocolError(_CODES.get(problem.kind, ErrorCode.FAILED), problem.message)


class FileService(Service):
    name = "files"

    def __init__(self, root: str) -> None:
        self.base = os.path.join(root, "uploads")
        self._names: Dict[str, str] = {}
        self._sizes: Dict[str, int] = {}  # the size each upload announced
        self.uploads = PartialUploads()

    def handlers(self) -> Dict[str, Handler]:
        return {"files.begin": self._begin, "files.chunk": self._chunk,
                # hashing a big file takes a while: off the event loop
                "files.finish": lambda params: Deferred(lambda: self._finish(params), "files-finish")}

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
        self._sizes[params.sha256] = params.size
        if os.path.exists(final):
            return StoreUploadState(params.sha256, params.size, params.size, path=final)
        folder = os.path.dirname(part)
        os.makedirs(folder, mode=0o770, exist_ok=True)
        if not os.path.exists(part):
            free = shutil.disk_usage(folder).free
            if free < params.size + SPACE_MARGIN_BYTES:
                raise ProtocolError(Code.NO_SPACE, "not enough disk space on the device for %s: it is %.1f MB and "
                                    "%.1f MB are free; free some space and send it again"
                                    % (params.filename, params.size / 1e6, free / 1e6))
        return StoreUploadState(params.sha256, self.uploads.create(part), params.size, part=part)

    def _name(self, sha256: str) -> str:
        name = self._names.get(sha256)
        if name is None:
            raise ProtocolError(Code.NOT_FOUND, "no file upload %s in progress: begin it again" % sha256[:16])
        return name

    def _chunk(self, params: Record) -> Record:
        assert isinstance(params, StoreUploadChunk)
        name = self._name(params.id)
        part, _ = self._paths(params.id, name)
        try:
            data = base64.b64decode(params.data, validate=True)
        except (binascii.Error, ValueError):
            raise _bad("a file chunk must be base64") from None
        if len(data) > STORE_UPLOAD_CHUNK:
            raise _bad("a file chunk holds at most %d bytes" % STORE_UPLOAD_CHUNK)
        try:
            offset = self.uploads.append(part, params.offset, data, self._sizes.get(params.id, MAX_FILE_BYTES))
        except UploadProblem as exc:
            raise _problem(exc) from None
        except OSError as exc:
            failure = io_error("the device could not store the file", exc, part)
            raise ProtocolError(failure.code, failure.message) from None
        return StoreUploadState(params.id, offset, 0, part=part)

    def _finish(self, params: Record) -> Record:
        assert isinstance(params, StoreActionRef)
        name = self._name(params.id)
        part, final = self._paths(params.id, name)
        if not os.path.exists(final):
            size = self.uploads.received(part)
            try:
                self.uploads.finish(part, final, params.id, self._sizes.get(params.id, size), name, mode=0o640)
            except UploadProblem as exc:
                raise _problem(exc) from None
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
