"""The one atomic file write both sides use: whole new file or the old one, nothing left behind."""

from __future__ import annotations

import errno
import hashlib
import itertools
import os
from pathlib import Path

import pytest

from device_runtime import fileio
from device_runtime.fileio import replacing, start_writeback, write_atomic
from device_runtime.package_format.manifest import parse_manifest_bytes
from device_runtime.package_format.package import PackageReader
from tests.support.store import make_package


def test_a_file_is_replaced_whole_with_the_mode_asked_for(tmp_path: Path) -> None:
    target = tmp_path / "settings.json"
    target.write_text("old\n")
    write_atomic(target, b"new\n", mode=0o600)
    assert target.read_bytes() == b"new\n"
    assert target.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]


def test_text_goes_through_the_encoding_and_newline_given(tmp_path: Path) -> None:
    target = tmp_path / "rows.csv"
    with replacing(str(target), encoding="utf-8", newline="") as handle:
        handle.write("a,°C\r\n")
    assert target.read_bytes() == "a,°C\r\n".encode()


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "known_hosts"
    target.write_text("kept\n")
    with pytest.raises(UnicodeEncodeError), replacing(target, encoding="ascii") as handle:
        handle.write("first line\n")
        handle.write("é\n")
    assert target.read_text() == "kept\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["known_hosts"]


def test_a_folder_in_the_way_is_an_error_and_nothing_is_left(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    with pytest.raises(IsADirectoryError):
        write_atomic(tmp_path / "out", b"data")
    assert os.listdir(tmp_path) == ["out"] and os.listdir(tmp_path / "out") == []


def test_writeback_is_started_for_any_open_file_and_refused_for_a_pipe(tmp_path: Path) -> None:
    """start_writeback asks the kernel to write a range now (sync_file_range); it needs no
    write access (the upload follower holds the part read-only) and says when it cannot."""
    target = tmp_path / "model.onnx"
    target.write_bytes(os.urandom(1 << 20))
    fd = os.open(target, os.O_RDONLY)
    try:
        assert start_writeback(fd, 0, 1 << 20) is True
        assert start_writeback(fd, 0, 0) is False  # nothing to hand over
    finally:
        os.close(fd)
    read_end, write_end = os.pipe()
    try:
        assert start_writeback(read_end, 0, 4096) is False  # ESPIPE: refused, never raised
    finally:
        os.close(read_end)
        os.close(write_end)


def test_a_big_unpacked_file_is_handed_to_the_disk_as_it_is_written(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The staging copy of a 40 MB model goes to the disk in spans while it is unpacked, so the
    fsync before it is renamed into the store waits for the last span alone."""
    package = make_package(tmp_path, padding_bytes=40 << 20)
    spans: list[tuple[str, int, int]] = []
    real = fileio.start_writeback

    def recording(fd: int, offset: int, length: int) -> bool:
        spans.append((os.readlink("/proc/self/fd/%d" % fd), offset, length))
        return real(fd, offset, length)

    monkeypatch.setattr(fileio, "start_writeback", recording)
    reader = PackageReader(str(package), 1 << 30)
    try:
        raw, _signature = reader.head()
        manifest = parse_manifest_bytes(raw)
        (tmp_path / "staged").mkdir()
        reader.extract(manifest, str(tmp_path / "staged"))
    finally:
        reader.close()
    model = manifest.file(manifest.entry)
    assert model is not None and model.size > 40 << 20
    on_model = [(offset, length) for path, offset, length in spans if path.endswith(model.path)]
    assert on_model and on_model[0][0] == 0
    assert all(a + n == b for (a, n), (b, _m) in itertools.pairwise(on_model))  # contiguous, in order
    assert all(n >= fileio.WRITEBACK_SPAN for _a, n in on_model)
    assert model.size - (on_model[-1][0] + on_model[-1][1]) < fileio.WRITEBACK_SPAN  # only the tail is left to fsync


def test_the_background_writer_writes_every_block_in_order(tmp_path: Path) -> None:
    blocks = [os.urandom(100), *(os.urandom(1 << 20) for _ in range(20)), os.urandom(7)]
    target = tmp_path / "model.onnx"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT)
    writer = fileio.BackgroundWriter(fd)
    for block in blocks:
        writer.write(memoryview(block)[:])
    writer.close()
    os.close(fd)
    assert target.read_bytes() == b"".join(blocks)
    with pytest.raises(ValueError, match="closed"):
        writer.write(b"late")


def test_a_full_disk_under_the_background_writer_is_raised_to_the_reader() -> None:
    """The unpack learns of a full disk from its next write or its close, as it did writing itself."""
    fd = os.open("/dev/full", os.O_WRONLY)
    try:
        writer = fileio.BackgroundWriter(fd)
        with pytest.raises(OSError) as small:
            writer.write(b"x" * 100)  # small first blocks are written at once
        assert small.value.errno == errno.ENOSPC
        writer = fileio.BackgroundWriter(fd)
        with pytest.raises(OSError) as big:
            for _ in range(64):  # more than the queue holds: a write after the failure raises it
                writer.write(b"x" * (1 << 20))
            writer.close()
        assert big.value.errno == errno.ENOSPC
        writer.stop()  # the thread is gone; stopping again is harmless
    finally:
        os.close(fd)


def test_the_background_sha256_is_hashlib_s_over_any_mix_of_small_and_big_blocks() -> None:
    from device_runtime.package_format.hashing import BackgroundSha256

    for sizes in ([5, 70_000, 3, 1 << 20], [1 << 20] * 40, [10] * 30, [0, 65_535, 65_536, 1]):
        blocks = [os.urandom(n) for n in sizes]
        hasher = BackgroundSha256()
        for block in blocks:
            hasher.update(memoryview(block))
        assert hasher.hexdigest() == hashlib.sha256(b"".join(blocks)).hexdigest(), sizes
        assert hasher.hexdigest() == hashlib.sha256(b"".join(blocks)).hexdigest()  # asked again: the same
        with pytest.raises(ValueError, match="already taken"):
            hasher.update(b"late")
    stopped = BackgroundSha256()
    stopped.update(os.urandom(1 << 20))
    stopped.close()  # a sender that failed ends the thread; the digest of what came stays readable
    with pytest.raises(ValueError, match="closed"):
        stopped.update(b"more")
    assert len(stopped.hexdigest()) == 64
