"""Tampered packages: every single-bit flip of a signed manifest, and random damage to archives."""

from __future__ import annotations

import random
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_runtime.package_format.errors import StoreError
from device_runtime.package_format.package import GZIP_HEADER
from device_runtime.store.store import Store
from tests.support.store import make_package, public_line, read_members, snapshot, write_members


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("pkgs")
    one = make_package(tmp, version="1.0.0", seed=1)
    two = make_package(tmp, version="2.0.0", seed=2)
    return {"one": one, "two": two}


@pytest.fixture(scope="module")
def module_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(str(tmp_path_factory.mktemp("store") / "root"))
    store.trust_key(public_line())
    return store


def _refused(store: Store, path: Path) -> None:
    before = snapshot(Path(store.root))
    with pytest.raises(StoreError):
        store.import_package(str(path))
    assert snapshot(Path(store.root)) == before


def test_every_single_bit_flip_of_a_signed_manifest_is_refused(packages: dict[str, Path], module_store: Store,
                                                                tmp_path: Path) -> None:
    members = read_members(packages["one"])
    manifest_info, raw = members[0]
    assert len(raw) > 300
    before = snapshot(Path(module_store.root))
    out = tmp_path / "flip.tar.gz"
    for bit in range(len(raw) * 8):
        flipped = bytearray(raw)
        flipped[bit // 8] ^= 1 << (bit % 8)
        write_members(out, [(manifest_info, bytes(flipped)), *members[1:]])
        with pytest.raises(StoreError):
            module_store.import_package(str(out))
    assert snapshot(Path(module_store.root)) == before


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(st.data())
def test_random_byte_changes_are_refused(packages: dict[str, Path], module_store: Store, tmp_path: Path,
                                         data: st.DataObject) -> None:
    raw = bytearray(packages["one"].read_bytes())
    positions = data.draw(st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=4, unique=True))
    for pos in positions:
        raw[pos] ^= data.draw(st.integers(1, 255))
    (tmp_path / "changed.tar.gz").write_bytes(bytes(raw))
    _refused(module_store, tmp_path / "changed.tar.gz")


@SETTINGS
@given(cut=st.integers(min_value=1))
def test_truncation_is_refused(packages: dict[str, Path], module_store: Store, tmp_path: Path, cut: int) -> None:
    raw = packages["one"].read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(raw[: len(raw) - 1 - cut % (len(raw) - 1)])
    _refused(module_store, tmp_path / "cut.tar.gz")


@SETTINGS
@given(tail=st.binary(min_size=1, max_size=2048))
def test_extension_is_refused(packages: dict[str, Path], module_store: Store, tmp_path: Path, tail: bytes) -> None:
    (tmp_path / "longer.tar.gz").write_bytes(packages["one"].read_bytes() + tail)
    _refused(module_store, tmp_path / "longer.tar.gz")


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_added_removed_and_mixed_files_are_refused(packages: dict[str, Path], module_store: Store, tmp_path: Path,
                                                   seed: int) -> None:
    rng = random.Random(seed)
    one, two = read_members(packages["one"]), read_members(packages["two"])
    choice = rng.choice(["add", "remove", "mix-files", "mix-manifest", "mix-signature", "duplicate"])
    if choice == "add":
        added = tarfile.TarInfo("labels%d.txt" % rng.randrange(100))
        members = [*one, (added, rng.randbytes(rng.randrange(1, 50)))]
    elif choice == "remove":
        members = one[:2]
    elif choice == "mix-files":
        members = [*one[:2], *two[2:]]
    elif choice == "mix-manifest":
        members = [two[0], *one[1:]]
    elif choice == "mix-signature":
        members = [one[0], two[1], *one[2:]]
    else:
        members = [*one, one[2]]
    _refused(module_store, write_members(tmp_path / "mixed.tar.gz", members))


def test_every_change_to_the_gzip_header_is_refused(packages: dict[str, Path], module_store: Store,
                                                    tmp_path: Path) -> None:
    """zlib ignores the header's flags, time and OS bytes; the device takes only the fixed header."""
    raw = packages["one"].read_bytes()
    assert raw[:len(GZIP_HEADER)] == GZIP_HEADER
    for pos in range(len(GZIP_HEADER)):
        for flip in (0x01, 0x80):
            changed = bytearray(raw)
            changed[pos] ^= flip
            (tmp_path / "header.tar.gz").write_bytes(bytes(changed))
            _refused(module_store, tmp_path / "header.tar.gz")
