"""Integrity of stored versions: full re-hashes, and cheap fingerprints between them.

A version is hashed in full when it is imported and again by the start-up scrub. Between
those, a fingerprint (size, mtime and inode of every file) proves nothing changed through the
file system, so a rollback need not re-read a 100 MB model.
"""

from __future__ import annotations

import hashlib
import os
import threading
from typing import Callable, Dict, List, Optional, Tuple

from device_runtime.package_format.manifest import MANIFEST_FILE, Manifest, parse_manifest_bytes

Fingerprint = Tuple[Tuple[str, int, int, int], ...]
CHUNK = 1 << 20


def read_manifest(version_dir: str) -> Manifest:
    with open(os.path.join(version_dir, MANIFEST_FILE), "rb") as handle:
        return parse_manifest_bytes(handle.read())


def fingerprint(version_dir: str, manifest: Manifest) -> Optional[Fingerprint]:
    """None when a file is missing or not a regular file of the manifest's size."""
    items = []
    for entry in [MANIFEST_FILE] + [f.path for f in manifest.files]:
        try:
            st = os.lstat(os.path.join(version_dir, entry))
        except OSError:
            return None
        if not os.path.isfile(os.path.join(version_dir, entry)) or os.path.islink(os.path.join(version_dir, entry)):
            return None
        items.append((entry, st.st_size, st.st_mtime_ns, st.st_ino))
    sizes = {f.path: f.size for f in manifest.files}
    if any(size != sizes[path] for path, size, _, _ in items if path in sizes):
        return None
    return tuple(items)


def hash_problems(version_dir: str, manifest: Manifest, stop: Callable[[], bool] = lambda: False) -> List[str]:
    """What differs from the manifest, in words (empty: every file matches)."""
    problems: List[str] = []
    for entry in manifest.files:
        path = os.path.join(version_dir, entry.path)
        digest = hashlib.sha256()
        size = 0
        try:
            with open(path, "rb") as handle:
                for block in iter(lambda h=handle: h.read(CHUNK), b""):  # type: ignore[misc]
                    digest.update(block)
                    size += len(block)
                    if stop():
                        return problems
        except OSError as exc:
            problems.append("%s cannot be read (%s)" % (entry.path, exc.strerror))
            continue
        if size != entry.size:
            problems.append("%s is %d bytes, the manifest says %d" % (entry.path, size, entry.size))
        elif digest.hexdigest() != entry.sha256:
            problems.append("%s no longer matches its sha256" % entry.path)
    return problems


class Verified:
    """Fingerprints of versions whose every file was hashed and matched, for this process's life."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._prints: Dict[Tuple[str, str], Fingerprint] = {}

    def mark(self, name: str, version: str, version_dir: str, manifest: Manifest) -> None:
        fp = fingerprint(version_dir, manifest)
        with self._lock:
            if fp is None:
                self._prints.pop((name, version), None)
            else:
                self._prints[(name, version)] = fp

    def forget(self, name: str, version: str) -> None:
        with self._lock:
            self._prints.pop((name, version), None)

    def still_verified(self, name: str, version: str, version_dir: str, manifest: Manifest) -> bool:
        with self._lock:
            known = self._prints.get((name, version))
        return known is not None and known == fingerprint(version_dir, manifest)
