"""The package reader takes member data straight from the gzip stream, reading front to back only:
files of any size and headers tarfile writes as pax records come out whole, and a header too big to
be one edgectl wrote is refused before it is held in memory."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from console.core.models.package_gzip import CanonicalGzip
from device_runtime.package_format.errors import Code, StoreError
from device_runtime.package_format.package import CHUNK, MAX_HEADER_READ
from device_runtime.store.store import Store
from tests.support.store import make_package, read_members


def test_files_over_many_blocks_and_pax_named_files_come_out_whole(store: Store, tmp_path: Path) -> None:
    weights = tmp_path / ("w" * 120 + ".bin")  # over tar's 100 characters: a pax header carries the name
    weights.write_bytes(os.urandom(3 * CHUNK + 1234))  # several decompressor blocks, ending inside one
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"x" * 700)  # a small file right after: its header sits inside the previous block
    package = make_package(tmp_path, extra=[weights, notes])
    outcome = store.import_package(str(package))
    stored = Path(store.version_dir(outcome.manifest.name, outcome.manifest.version))
    for source in (weights, notes):
        assert hashlib.sha256((stored / source.name).read_bytes()).digest() == hashlib.sha256(
            source.read_bytes()).digest()


def test_a_header_bigger_than_any_package_build_writes_is_refused(store: Store, tmp_path: Path) -> None:
    package = tmp_path / "big-header.tar.gz"
    with package.open("wb") as raw:
        stream = CanonicalGzip(raw)
        with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
            for info, data in read_members(make_package(tmp_path)):
                if info.name == "model.onnx":
                    info.pax_headers = {"comment": "x" * (MAX_HEADER_READ + 1)}
                tar.addfile(info, io.BytesIO(data))
        stream.close()
    with pytest.raises(StoreError) as caught:
        store.import_package(str(package))
    assert caught.value.code == Code.BAD_PACKAGE and "damaged or truncated" in caught.value.message
    assert os.listdir(store.path("models")) == []
