"""The daemon's one resumable, hashed upload (store incoming/ and job files both use it)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from device_runtime import partial_upload
from device_runtime.partial_upload import PartialUploads, UploadProblem

DATA = bytes(range(256)) * 4000
SHA = hashlib.sha256(DATA).hexdigest()


def test_chunks_resume_and_finish_durably(tmp_path: Path) -> None:
    uploads = PartialUploads()
    part, final = str(tmp_path / "x.part"), str(tmp_path / "x")
    assert uploads.create(part) == 0
    half = len(DATA) // 2
    assert uploads.append(part, 0, DATA[:half], len(DATA)) == half
    with pytest.raises(UploadProblem) as stale:
        uploads.append(part, 0, DATA[half:], len(DATA))  # a resend from a stale offset
    assert stale.value.kind == partial_upload.OFFSET and stale.value.received == half
    assert "resume from %d" % half in stale.value.message
    assert uploads.create(part) == half  # begin again: continue from what is there
    with pytest.raises(UploadProblem) as longer:
        uploads.append(part, half, DATA[half:] + b"x", len(DATA))
    assert longer.value.kind == partial_upload.TOO_LONG
    with pytest.raises(UploadProblem) as short:
        uploads.finish(part, final, SHA, len(DATA))
    assert short.value.kind == partial_upload.INCOMPLETE and os.path.exists(part)  # kept for a resume
    uploads.append(part, half, DATA[half:], len(DATA))
    uploads.finish(part, final, SHA, len(DATA))
    assert Path(final).read_bytes() == DATA and not os.path.exists(part)


def test_bytes_written_behind_its_back_are_hashed_at_finish(tmp_path: Path) -> None:
    """Over SFTP the bytes land in the part without the daemon seeing them; chunks after that
    cannot extend a running hash that missed them, so finish hashes the part itself."""
    uploads = PartialUploads()
    part, final = str(tmp_path / "x.part"), str(tmp_path / "x")
    uploads.create(part)
    third = len(DATA) // 3
    uploads.append(part, 0, DATA[:third], len(DATA))
    with open(part, "ab") as handle:
        handle.write(DATA[third:2 * third])
    uploads.append(part, 2 * third, DATA[2 * third:], len(DATA))
    seen: list[str] = []
    uploads.before_hash = seen.append
    uploads.finish(part, final, SHA, len(DATA))
    assert seen == [part] and Path(final).read_bytes() == DATA


def test_damaged_bytes_are_deleted_and_a_wrong_hint_is_ignored(tmp_path: Path) -> None:
    uploads = PartialUploads()
    part, final = str(tmp_path / "x.part"), str(tmp_path / "x")
    uploads.create(part)
    damaged = bytearray(DATA)
    damaged[1000] ^= 1
    uploads.append(part, 0, bytes(damaged), len(DATA))
    # Another reader's sha256 is taken only when it is the announced one; this one is not.
    with pytest.raises(UploadProblem) as caught:
        uploads.finish(part, final, SHA, len(DATA), "model.onnx", hashed="0" * 64)
    assert caught.value.kind == partial_upload.DAMAGED and "model.onnx arrived damaged" in caught.value.message
    assert not os.path.exists(part) and not os.path.exists(final)
    with pytest.raises(UploadProblem) as gone:
        uploads.append(part, 0, DATA, len(DATA))
    assert gone.value.kind == partial_upload.MISSING
