"""The packages' gzip layer: one fixed header, stored when the files do not compress, and old
archives from other gzip writers refused by the device but still re-signable."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest

from console.core.models.package_gzip import COMPRESS_LEVEL, STORE_LEVEL, CanonicalGzip, choose_level
from console.core.models.packages import sign_package
from device_runtime.package_format.errors import Code, StoreError
from device_runtime.package_format.package import GZIP_HEADER
from device_runtime.store.store import Store
from tests.support.store import SIGN_KEY, make_package, read_members


def test_the_level_follows_what_the_files_hold(tmp_path: Path) -> None:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(3 << 20))  # like trained or quantised weights: nothing to gain
    labels = tmp_path / "labels.txt"
    labels.write_text("person\nbicycle\ncar\n" * 20000)
    assert choose_level([weights]) == STORE_LEVEL
    assert choose_level([labels]) == COMPRESS_LEVEL
    floats = tmp_path / "floats.bin"  # trained float32 weights deflate to ~90%: seconds per 100 MB for that
    floats.write_bytes(np.random.default_rng(0).standard_normal(1 << 20, dtype=np.float32).tobytes())
    assert choose_level([floats]) == STORE_LEVEL
    empty = tmp_path / "empty"
    empty.touch()
    assert choose_level([empty]) == STORE_LEVEL


@pytest.mark.parametrize("level", [STORE_LEVEL, COMPRESS_LEVEL])
def test_the_stream_is_plain_gzip_with_the_fixed_header(level: int) -> None:
    data = os.urandom(100_000) + b"a" * 100_000
    out = io.BytesIO()
    stream = CanonicalGzip(out, level)  # type: ignore[arg-type]
    stream.write(data[:12345])
    stream.write(data[12345:])
    stream.close()
    assert out.getvalue()[:len(GZIP_HEADER)] == GZIP_HEADER
    assert gzip.decompress(out.getvalue()) == data


def test_an_incompressible_model_is_stored_not_deflated(tmp_path: Path) -> None:
    package = make_package(tmp_path, padding_bytes=2 << 20)
    raw = package.read_bytes()
    # Deflate at any level would compress the first block (tar headers and the manifest's JSON);
    # a stored stream starts with a stored block (BTYPE 00) and costs 5 bytes per 64 KB.
    assert raw[len(GZIP_HEADER)] & 0b110 == 0
    payload = sum(len(data) for _info, data in read_members(package))
    assert payload < len(raw) < payload + (64 << 10)


def test_an_archive_from_another_gzip_writer_is_refused_and_re_signing_mends_it(store: Store,
                                                                                tmp_path: Path) -> None:
    members = read_members(make_package(tmp_path))
    legacy = tmp_path / "legacy.tar.gz"
    with tarfile.open(legacy, "w:gz", format=tarfile.PAX_FORMAT) as tar:  # a name and a time in its header
        for info, data in members:
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(StoreError) as caught:
        store.import_package(str(legacy))
    assert caught.value.code == Code.BAD_PACKAGE and "gzip header" in caught.value.message
    assert "edgectl package build" in caught.value.message
    sign_package(legacy, SIGN_KEY)
    assert legacy.read_bytes()[:len(GZIP_HEADER)] == GZIP_HEADER
    assert store.import_package(str(legacy)).manifest.version == "1.0.0"


def test_the_archive_is_hashed_as_it_is_written_and_only_trusted_while_unchanged(tmp_path: Path) -> None:
    import hashlib

    from console.core.models.packages import known_sha256

    package = make_package(tmp_path)
    assert known_sha256(package) == hashlib.sha256(package.read_bytes()).hexdigest()
    with package.open("ab") as handle:
        handle.write(b"\0")
    assert known_sha256(package) is None
