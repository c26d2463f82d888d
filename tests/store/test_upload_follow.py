"""The daemon hashes an upload's bytes as another writer lays them down (SFTP, or the console on
the same machine), so finish reads nothing again; a part that is resumed is hashed again from the
disk, so bytes that changed while the upload waited are caught."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

import device_runtime.partial_upload as partial_upload
from device_runtime.partial_upload import DAMAGED, PartialUploads, UploadProblem

SIZE = 5 * partial_upload.CHUNK + 12345


def _write(part: Path, data: bytes, pieces: int = 7) -> None:
    step = -(-len(data) // pieces)
    with part.open("ab") as handle:
        for start in range(0, len(data), step):
            handle.write(data[start:start + step])
            handle.flush()


def _followed(uploads: PartialUploads, part: Path) -> None:
    """Wait for the follower to end (it ends once it hashed the whole part)."""
    follower = uploads._entry(str(part)).follower
    assert follower is not None
    follower.join(timeout=60)
    assert not follower.is_alive()


def test_finish_takes_the_hash_made_as_the_bytes_landed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = os.urandom(SIZE)
    part, final = tmp_path / "u.part", tmp_path / "u.tar.gz"
    uploads = PartialUploads()
    assert uploads.create(str(part)) == 0
    uploads.follow(str(part), SIZE)
    _write(part, data)
    _followed(uploads, part)
    opened: list[str] = []
    real_open = open

    def watched(path: str, *args: object, **kwargs: object) -> object:
        opened.append(path)
        return real_open(path, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(partial_upload, "open", watched, raising=False)
    uploads.finish(str(part), str(final), hashlib.sha256(data).hexdigest(), SIZE)
    assert opened == [] and final.read_bytes() == data  # no second pass over the bytes


def test_a_resumed_part_is_hashed_again_from_the_disk(tmp_path: Path) -> None:
    """Bytes hashed as they landed, then changed on the disk while the upload waited for its
    sender: the resume starts the running hash again, and finish refuses the damaged upload."""
    data = os.urandom(SIZE)
    part, final = tmp_path / "u.part", tmp_path / "u.tar.gz"
    uploads = PartialUploads()
    uploads.create(str(part))
    half = SIZE // 2
    uploads.follow(str(part), SIZE)
    _write(part, data[:half])
    with part.open("r+b") as handle:  # a byte that rotted on the disk
        handle.seek(1000)
        handle.write(bytes([data[1000] ^ 0xFF]))
    assert uploads.create(str(part)) == half  # the sender comes back: a resume
    uploads.follow(str(part), SIZE)
    _write(part, data[half:])
    _followed(uploads, part)
    with pytest.raises(UploadProblem) as refused:
        uploads.finish(str(part), str(final), hashlib.sha256(data).hexdigest(), SIZE)
    assert refused.value.kind == DAMAGED and not part.exists() and not final.exists()
