"""A version being unpacked: ``models/.staging-<id>/``, locked while in use, renamed into place whole.

The staging folder lives next to the versions (same file system, so the rename is atomic) and
holds an flock on ``<folder>.lock`` for as long as a process works in it: start-up clean-up
removes staging folders whose lock is free and leaves a running import's alone.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from dataclasses import dataclass
from typing import Optional

from device_runtime import fileio
from device_runtime.package_format.manifest import MANIFEST_FILE, SIGNATURE_FILE, Manifest

STAGING_PREFIX = ".staging-"


@dataclass
class Staged:
    """A package checked and unpacked into a staging folder (every file's sha256 matched and was
    fsync'd), waiting to be renamed into ``models/<name>/<version>``."""

    manifest: Manifest
    raw: bytes  # manifest.json as signed
    sig_raw: Optional[bytes]
    signer: Optional[str]  # key id, None for an unsigned package
    path: str
    lock_fd: int
    lock_path: str

    @classmethod
    def create(cls, models: str, manifest: Manifest, raw: bytes, sig_raw: Optional[bytes],
               signer: Optional[str]) -> Staged:
        path = os.path.join(models, STAGING_PREFIX + uuid.uuid4().hex[:12])
        lock_path = path + ".lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            os.mkdir(path, 0o755)
        except BaseException:
            _unlink_lock(fd, lock_path)
            raise
        return cls(manifest, raw, sig_raw, signer, path, fd, lock_path)

    def seal(self) -> None:
        """Write the manifest and signature, and fsync every file, then every folder (deepest
        first): what is renamed into the store is complete on disk."""
        _write_new(os.path.join(self.path, MANIFEST_FILE), self.raw)
        if self.sig_raw is not None:
            _write_new(os.path.join(self.path, SIGNATURE_FILE), self.sig_raw)
        tree = sorted(os.walk(self.path), key=lambda item: -len(item[0]))
        for directory, _dirs, files in tree:
            for name in files:
                fileio.fsync_file(os.path.join(directory, name))
        for directory, _dirs, _files in tree:
            fileio.fsync_dir(directory)

    def release(self, remove: bool) -> None:
        """Drop the lock; with ``remove`` also the folder (when it was not renamed into the store)."""
        if remove:
            shutil.rmtree(self.path, ignore_errors=True)
        if self.lock_fd >= 0:
            _unlink_lock(self.lock_fd, self.lock_path)
            self.lock_fd = -1


def _write_new(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_lock(fd: int, path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
    os.close(fd)
