"""Every refusal of an import, each with a clear message and the store left exactly as it was."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from console.core.models.packages import EngineBuild
from device_runtime.package_format.errors import Code, StoreError
from device_runtime.package_format.manifest import canonical
from device_runtime.package_format.signing import sign
from device_runtime.store import activation
from device_runtime.store.compat import StoreFacts
from device_runtime.store.config import ALLOW_UNSIGNED, StoreConfig, save_config
from device_runtime.store.store import Store
from tests.support.store import (
    OTHER_KEY,
    SIGN_KEY,
    make_package,
    public_line,
    read_members,
    snapshot,
    write_members,
)


def refused(store: Store, package: Path, code: str, *words: str) -> str:
    before = snapshot(Path(store.root))
    with pytest.raises(StoreError) as info:
        store.import_package(str(package))
    assert info.value.code == code, info.value.message
    for word in words:
        assert word in info.value.message, info.value.message
    assert snapshot(Path(store.root)) == before
    return info.value.message


def resigned(tmp_path: Path, package: Path, change: dict[str, object], out: str) -> Path:
    """The package with manifest fields changed, canonical and validly signed again."""
    members = read_members(package)
    data = json.loads(members[0][1])
    data.update(change)
    raw = canonical(data)
    members[0] = (members[0][0], raw)
    members[1] = (members[1][0], sign(SIGN_KEY, raw).to_bytes())
    return write_members(tmp_path / out, members)


def test_a_good_package_imports(store: Store, tmp_path: Path) -> None:
    outcome = store.import_package(str(make_package(tmp_path)))
    assert outcome.signer is not None and not outcome.already
    assert store.stored_versions("detector") == ["1.0.0"]


def test_unsigned_is_refused_when_signatures_are_required(store: Store, tmp_path: Path) -> None:
    refused(store, make_package(tmp_path, signed=False), Code.UNSIGNED, "not signed", "edgectl package sign")
    save_config(store.root, StoreConfig(policy=ALLOW_UNSIGNED))
    assert store.import_package(str(make_package(tmp_path, signed=False))).signer is None


def test_untrusted_key(store: Store, tmp_path: Path) -> None:
    refused(store, make_package(tmp_path, key=OTHER_KEY), Code.UNTRUSTED_KEY, "does not trust", "keys trust")


def test_a_bad_signature_is_refused_even_when_unsigned_packages_are_allowed(store: Store, tmp_path: Path) -> None:
    save_config(store.root, StoreConfig(policy=ALLOW_UNSIGNED))
    one = read_members(make_package(tmp_path, version="1.0.0"))
    two = read_members(make_package(tmp_path, version="2.0.0"))
    swapped = write_members(tmp_path / "swapped.tar.gz", [two[0], one[1], *two[2:]])
    refused(store, swapped, Code.BAD_SIGNATURE, "changed after signing")
    damaged = write_members(tmp_path / "damaged-sig.tar.gz", [two[0], (two[1][0], b"{oops}\n"), *two[2:]])
    refused(store, damaged, Code.BAD_SIGNATURE, "manifest.sig is damaged")


def test_sha256_mismatch(store: Store, tmp_path: Path) -> None:
    members = read_members(make_package(tmp_path))
    info, data = members[2]
    members[2] = (info, data[:-1] + bytes([data[-1] ^ 1]))
    refused(store, write_members(tmp_path / "flip.tar.gz", members), Code.HASH_MISMATCH, "model.onnx", "sha256")


def test_truncated_archive(store: Store, tmp_path: Path) -> None:
    raw = make_package(tmp_path).read_bytes()
    for cut in (10, len(raw) // 2, len(raw) - 4):
        (tmp_path / "cut.tar.gz").write_bytes(raw[:cut])
        refused(store, tmp_path / "cut.tar.gz", Code.BAD_PACKAGE, "truncated")


def test_manifest_missing_invalid_or_not_canonical(store: Store, tmp_path: Path) -> None:
    members = read_members(make_package(tmp_path))
    refused(store, write_members(tmp_path / "none.tar.gz", members[2:]), Code.BAD_MANIFEST, "no manifest.json")
    broken = [(members[0][0], b"{not json"), *members[1:]]
    refused(store, write_members(tmp_path / "bad.tar.gz", broken), Code.BAD_MANIFEST, "not valid JSON")
    pretty = json.dumps(json.loads(members[0][1]), indent=2).encode()
    refused(store, write_members(tmp_path / "pretty.tar.gz", [(members[0][0], pretty), *members[1:]]),
            Code.BAD_MANIFEST, "canonical form")


@pytest.mark.parametrize(("change", "words"), [
    ({"version": "1.0"}, "not a semantic version"),
    ({"version": "01.0.0"}, "not a semantic version"),
    ({"name": "../etc"}, "name"),
    ({"schema": 2}, "update the runtime"),
    ({"security_counter": -1}, "security_counter"),
    ({"backend": "tflite"}, "backend"),
    ({"extra": 1}, "unknown field"),
])
def test_invalid_manifest_fields_signed_correctly(store: Store, tmp_path: Path, change: dict[str, object],
                                                 words: str) -> None:
    refused(store, resigned(tmp_path, make_package(tmp_path), change, "changed.tar.gz"), Code.BAD_MANIFEST, words)


def test_existing_version_with_other_contents(store: Store, tmp_path: Path) -> None:
    package = make_package(tmp_path, seed=0)  # built once: a second build's manifest may be a second younger
    store.import_package(str(package))
    again = store.import_package(str(package))
    assert again.already
    other = tmp_path / "other"
    other.mkdir()
    refused(store, make_package(other, seed=5), Code.VERSION_CONFLICT, "different contents", "new version number")


def _evil(tmp_path: Path, name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> Path:
    members = read_members(make_package(tmp_path))
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return write_members(tmp_path / "evil.tar.gz", [*members, (info, b"x" if kind == tarfile.REGTYPE else b"")])


@pytest.mark.parametrize(("name", "kind", "link", "words"), [
    ("../escape.txt", tarfile.REGTYPE, "", "outside the package"),
    ("/etc/evil", tarfile.REGTYPE, "", "outside the package"),
    ("link", tarfile.SYMTYPE, "/etc/passwd", "links are not allowed"),
    ("inner", tarfile.SYMTYPE, "model.onnx", "links are not allowed"),
    ("hard", tarfile.LNKTYPE, "model.onnx", "links are not allowed"),
    ("dev", tarfile.CHRTYPE, "", "device file"),
    ("blk", tarfile.BLKTYPE, "", "device file"),
    ("fifo", tarfile.FIFOTYPE, "", "FIFO"),
    ("extra.bin", tarfile.REGTYPE, "", "does not list"),
])
def test_unsafe_members(store: Store, tmp_path: Path, name: str, kind: bytes, link: str, words: str) -> None:
    refused(store, _evil(tmp_path, name, kind, link), Code.BAD_PACKAGE, words)


def test_archive_expanding_beyond_the_limit(store: Store, tmp_path: Path) -> None:
    save_config(store.root, StoreConfig(max_package_bytes=50_000))
    refused(store, make_package(tmp_path, padding_bytes=200_000), Code.BAD_PACKAGE, "limit")


def test_not_enough_disk_space_is_checked_before_unpacking(store: Store, tmp_path: Path) -> None:
    save_config(store.root, StoreConfig(space_margin_bytes=1 << 60))
    refused(store, make_package(tmp_path), Code.NO_SPACE, "not enough disk space", "MB are free")


def _engine_package(tmp_path: Path, trt: str = "8.6.2", cc: str = "8.7") -> Path:
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"serialized plan bytes from trtexec")
    return make_package(tmp_path, engine=EngineBuild(engine, trt, cc, l4t="36.2.0"))


def test_engine_for_another_tensorrt_or_gpu(tmp_path: Path) -> None:
    package = _engine_package(tmp_path)
    for facts, has in [(StoreFacts(), "this device has no TensorRT"),
                       (StoreFacts(tensorrt="10.3.0", compute_capability="8.7"), "this device has TensorRT 10.3.0"),
                       (StoreFacts(tensorrt="8.6.2", compute_capability="9.0"), "compute capability 9.0")]:
        store = Store(str(tmp_path / ("root-%s" % facts.compute_capability)), facts)
        store.trust_key(public_line())
        message = refused(store, package, Code.INCOMPATIBLE_ENGINE, has, "built with TensorRT 8.6.2",
                          "compute capability 8.7", "source ONNX (model.onnx)")
        assert "rebuild" in message
    ok = Store(str(tmp_path / "root-ok"), StoreFacts(tensorrt="8.6.2", compute_capability="8.7"))
    ok.trust_key(public_line())
    assert ok.import_package(str(package)).manifest.backend == "tensorrt"


def test_replayed_package_below_the_security_floor(store: Store, tmp_path: Path) -> None:
    store.import_package(str(make_package(tmp_path, version="1.0.0", security_counter=1)))
    store.import_package(str(make_package(tmp_path, version="2.0.0", security_counter=3)))
    assert activation.activate(store, activation.Plan("detector", "1.0.0")).result == "committed"
    assert activation.activate(store, activation.Plan("detector", "2.0.0")).result == "committed"
    assert store.state("detector").floor == 3
    old = tmp_path / "old"
    old.mkdir()
    refused(store, make_package(old, version="1.5.0", security_counter=2), Code.BELOW_FLOOR, "floor 3",
            "counter >= 3")
