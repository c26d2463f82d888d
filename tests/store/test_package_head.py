"""A package sent as it is made is handed to the upload before the model's sha256 is known: its
size comes from a draft manifest of the same length, and its first block carries the final,
signed manifest. What is sent is exactly the package ``build_package`` writes; a final manifest
whose size differs from the draft's is refused, never sent with a wrong size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import numpy_helper

import console.core.models.packages as packages
from console.core.devices.keys import KeyStore
from console.core.models.packages import (
    PENDING_SHA256,
    PackageError,
    PackageStream,
    build_package,
    inspect_package,
    package_to_send,
    read_head,
    sha256_file,
)
from device_runtime.package_format.manifest import parse_manifest_bytes
from device_runtime.package_format.signing import Signature, parse_public_key, verify
from tests.support.store import make_onnx


def _stored_model(path: Path, seed: int = 3) -> Path:
    """A model whose random weights do not compress: its package is stored, so it is streamed."""
    import onnx

    model = onnx.load(str(make_onnx(path, seed)))
    rng = np.random.default_rng(seed)
    model.graph.initializer.append(numpy_helper.from_array(rng.standard_normal(1 << 18).astype(np.float32), "pad"))
    onnx.save(model, str(path))
    return path


def test_the_stream_is_sized_before_the_hash_and_sends_the_final_manifest(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    model = _stored_model(tmp_path / "m.onnx")
    keys = KeyStore(tmp_path / "keys")
    keys.new("lab")
    public = parse_public_key(keys.export("lab"))
    asked: list[str] = []
    sha256 = packages.ParsedModel.sha256
    monkeypatch.setattr(packages.ParsedModel, "sha256", lambda self: asked.append("sha256") or sha256(self))

    stream = package_to_send(model, tmp_path, "detector", "1.2.0", "tests", key=keys.private_key("lab"))
    assert isinstance(stream, PackageStream)
    assert asked == [], "the stream (and its size) is handed out before the model's sha256 is waited for"
    data = b"".join(stream.blocks())
    assert asked == ["sha256"]
    assert len(data) == stream.size

    sent = tmp_path / "sent.tar.gz"
    sent.write_bytes(data)
    info = inspect_package(sent)
    assert info.verified, info.problems
    raw, signature = read_head(sent)
    manifest = parse_manifest_bytes(raw)
    assert manifest.files[0].sha256 == manifest.source_onnx_sha256 == sha256_file(model) != PENDING_SHA256
    assert signature is not None and verify(public, Signature.parse(signature), raw), "signed over the final manifest"

    written = tmp_path / "written.tar.gz"
    build_package(model, written, "detector", "1.2.0", "tests", key=keys.private_key("lab"))
    written_manifest = parse_manifest_bytes(read_head(written)[0])
    assert written_manifest.files == manifest.files and len(written.read_bytes()) == len(data)


def test_a_final_manifest_that_changes_the_size_is_refused_before_a_byte_is_made(tmp_path: Path) -> None:
    model = tmp_path / "weights.bin"
    model.write_bytes(b"\x01" * 4096)
    stream = PackageStream("p.tar.gz", b'{"draft": "0000"}', None, {"model.onnx": model},
                           head=lambda: (b'{"draft": "%s"}' % (b"0" * 12000), None))  # a tar record more
    blocks = stream.blocks()
    with pytest.raises(PackageError, match="changed while it was packaged"):
        next(blocks)


def test_a_model_that_is_not_onnx_is_refused_and_lets_go_of_its_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\xff" * 100_000)
    with pytest.raises(PackageError, match="is not an ONNX model"):
        package_to_send(bad, tmp_path, "detector", "1.0.0", "tests")
    bad.unlink()  # nothing holds it mapped
    assert not bad.exists()
