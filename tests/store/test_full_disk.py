"""A full disk during upload and during unpack, on a small real tmpfs: a clear error, nothing half-done,
the previous version still active. Needs root and a working ``mount`` (else skipped, saying so)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from device_runtime.package_format.errors import Code, StoreError
from device_runtime.store import activation
from device_runtime.store.config import StoreConfig, save_config
from device_runtime.store.receiver import Receivers
from device_runtime.store.store import Store
from device_runtime.store.upload import Incoming
from tests.support.store import make_package, public_line, snapshot


def _fill(path: Path) -> None:
    """Write until the file system says ENOSPC."""
    with open(path, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * (64 << 10))
                handle.flush()
        except OSError:
            pass


def _store_with_active(disk: Path, tmp_path: Path) -> Store:
    store = Store(str(disk / "root"))
    store.trust_key(public_line())
    save_config(store.root, StoreConfig(space_margin_bytes=0))
    store.import_package(str(make_package(tmp_path, version="1.0.0")))
    assert activation.activate(store, activation.Plan("detector", "1.0.0")).result == "committed"
    return store


def test_disk_full_during_upload(small_disk: Path, tmp_path: Path) -> None:
    store = _store_with_active(small_disk, tmp_path)
    package = make_package(tmp_path, version="1.1.0", padding_bytes=3 << 20)
    data = package.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    incoming = Incoming(store)
    offset = incoming.begin(sha, len(data))
    offset = incoming.append(sha, offset, data[: 1 << 20])
    _fill(small_disk / "filler")  # something else on the robot fills the disk mid-upload
    with pytest.raises(StoreError) as info:
        while offset < len(data):
            offset = incoming.append(sha, offset, data[offset: offset + (1 << 20)])
    assert info.value.code == Code.NO_SPACE and "disk is full" in info.value.message
    assert "resumes" in info.value.message
    part = Path(store.path("incoming", sha + ".part"))
    assert part.stat().st_size == offset  # truncated back to the last whole chunk
    assert store.active_version("detector") == "1.0.0"
    (small_disk / "filler").unlink()
    assert incoming.begin(sha, len(data)) == offset  # resumes where it stopped
    while offset < len(data):
        offset = incoming.append(sha, offset, data[offset: offset + (1 << 20)])
    assert store.import_package(incoming.finish(sha)).manifest.version == "1.1.0"


def test_disk_full_during_unpack(small_disk: Path, tmp_path: Path) -> None:
    store = _store_with_active(small_disk, tmp_path)
    labels = tmp_path / "labels.txt"
    labels.write_bytes(os.urandom(2 << 20))
    package = make_package(tmp_path, version="1.1.0", extra=[labels])
    filled: list[str] = []

    def fill_after_first_file(point: str) -> None:
        if point == "import.unpack" and not filled:
            filled.append(point)
            _fill(small_disk / "filler")

    store.fault = fill_after_first_file
    before = snapshot(Path(store.root))
    with pytest.raises(StoreError) as info:
        store.import_package(str(package))
    assert filled and info.value.code == Code.NO_SPACE and "disk is full" in info.value.message
    assert snapshot(Path(store.root)) == before
    assert store.active_version("detector") == "1.0.0"
    assert not [p for p in os.listdir(store.path("models")) if p.startswith(".staging-")]


def test_too_little_space_is_refused_before_unpacking(small_disk: Path, tmp_path: Path) -> None:
    store = _store_with_active(small_disk, tmp_path)
    package = make_package(tmp_path, version="1.1.0", padding_bytes=12 << 20)
    before = snapshot(Path(store.root))
    with pytest.raises(StoreError) as info:
        store.import_package(str(package))
    assert info.value.code == Code.NO_SPACE and "not enough disk space" in info.value.message
    assert snapshot(Path(store.root)) == before


def test_receiving_a_package_leaves_room_for_the_rest_of_its_upload(small_disk: Path, tmp_path: Path) -> None:
    """A receiving child (unpacking as the upload arrives) stands aside when the disk could not
    also hold the rest of the upload: the upload completes, and the import refuses it cleanly."""
    store = _store_with_active(small_disk, tmp_path)
    package = make_package(tmp_path, version="1.1.0", padding_bytes=3 << 20)
    data = package.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    (small_disk / "filler").write_bytes(b"\0" * (free - len(data) * 3 // 2))  # room for the upload only
    incoming = Incoming(store)
    incoming.begin(sha, len(data))
    part = Path(incoming.part_path(sha))
    part.write_bytes(data[:64 << 10])
    receivers = Receivers(store, min_bytes=0)
    receivers.start(sha, str(part), len(data))
    receiver = receivers.take(sha)
    assert receiver is not None
    assert receiver.hashed(timeout=30) is None
    assert receiver.proc.wait(timeout=30) == 1  # it refused and went, while the upload was still arriving
    with part.open("ab") as handle:
        handle.write(data[64 << 10:])
    before = snapshot(Path(store.root))
    with pytest.raises(StoreError) as info:
        store.import_package(incoming.finish(sha))
    assert info.value.code == Code.NO_SPACE and "not enough disk space" in info.value.message
    assert store.active_version("detector") == "1.0.0"
    assert not [p for p in os.listdir(store.path("models")) if p.startswith(".staging-")]
    after = snapshot(Path(store.root))
    assert {k: v for k, v in after.items() if not k.startswith("incoming")} == {
        k: v for k, v in before.items() if not k.startswith("incoming")}
