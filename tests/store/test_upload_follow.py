"""The daemon hashes an upload's bytes as another writer lays them down (SFTP, or the console on
the same machine), so finish reads nothing again; a part that is resumed is hashed again from the
disk, so bytes that changed while the upload waited are caught."""

from __future__ import annotations

import hashlib
import itertools
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


def test_the_follower_hands_what_it_hashed_to_the_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pushed file is fsync'd at finish; the follower starts the disk's writes span by span as
    the bytes land, so that fsync waits for the last span alone, not for the whole file."""
    size = 3 * partial_upload.WRITEBACK_SPAN + 12345
    data = os.urandom(size)
    part, final = tmp_path / "u.part", tmp_path / "u.tar.gz"
    spans: list[tuple[int, int]] = []
    real = partial_upload.start_writeback

    def recording(fd: int, offset: int, length: int) -> bool:
        assert os.readlink("/proc/self/fd/%d" % fd) == str(part)
        spans.append((offset, length))
        return real(fd, offset, length)

    monkeypatch.setattr(partial_upload, "start_writeback", recording)
    uploads = PartialUploads()
    uploads.create(str(part))
    uploads.follow(str(part), size)
    _write(part, data, pieces=13)
    _followed(uploads, part)
    assert spans and spans[0][0] == 0
    assert all(a + n == b for (a, n), (b, _m) in itertools.pairwise(spans))  # contiguous, in order
    assert size - (spans[-1][0] + spans[-1][1]) < partial_upload.WRITEBACK_SPAN
    uploads.finish(str(part), str(final), hashlib.sha256(data).hexdigest(), size)
    assert final.read_bytes() == data
