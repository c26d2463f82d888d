"""Builders for real packages (real ONNX models, real Ed25519 keys) and store snapshots."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from onnx import TensorProto, helper, numpy_helper

from console.core.models.package_gzip import CanonicalGzip
from console.core.models.packages import build_package
from device_runtime.package_format.signing import PublicKey

SIGN_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


def public_line(key: Any = SIGN_KEY, comment: str = "tests") -> str:
    from cryptography.hazmat.primitives import serialization

    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return PublicKey(raw, comment).line()


def make_onnx(path: Path, seed: int = 0, padding_bytes: int = 0) -> Path:
    """A small real model: y = x @ W + b (x: [batch, 8]); ``padding_bytes`` adds an unused weight."""
    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(rng.standard_normal((8, 4)).astype(np.float32), "W"),
             numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "b")]
    nodes = [helper.make_node("MatMul", ["x", "W"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["y"])]
    if padding_bytes:
        pad = rng.integers(0, 255, padding_bytes, dtype=np.uint8)
        inits.append(numpy_helper.from_array(pad, "pad"))
        nodes.append(helper.make_node("Shape", ["pad"], ["pad_shape"]))
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def make_package(tmp: Path, name: str = "detector", version: str = "1.0.0", signed: bool = True, seed: int = 0,
                 key: Any = SIGN_KEY, **options: Any) -> Path:
    model = make_onnx(tmp / ("%s-%s-%d.onnx" % (name, version, seed)), seed, options.pop("padding_bytes", 0))
    out = tmp / ("%s-%s%s.tar.gz" % (name, version, "" if signed else "-unsigned"))
    build_package(model, out, name, version, "tests", key=key if signed else None, **options)
    return out


def read_members(package: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(package, "r:gz") as tar:
        return [(m, tar.extractfile(m).read() if m.isfile() else b"") for m in tar.getmembers()]  # type: ignore[union-attr]


def write_members(out: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with out.open("wb") as raw:
        stream = CanonicalGzip(raw)
        with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
            for original, data in members:
                info = _copy(original)
                if info.isfile():
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
                else:
                    tar.addfile(info)
        stream.close()
    return out


def _copy(info: tarfile.TarInfo) -> tarfile.TarInfo:
    new = tarfile.TarInfo(info.name)
    for attr in ("size", "mode", "mtime", "type", "linkname", "uid", "gid", "devmajor", "devminor"):
        setattr(new, attr, getattr(info, attr))
    return new


def snapshot(root: Path) -> dict[str, str]:
    """Every path under the store with a hash of its content (or its link target)."""
    found: dict[str, str] = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(directory) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                found[rel] = "-> " + os.readlink(path)
            elif path.is_file():
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                found[rel] = "dir"
    return found


def edgectl(env: Any, *argv: str) -> tuple[int, str, str]:
    """Run ``edgectl ARGV`` in-process on ``env`` (a ConsoleEnv); returns (exit code, stdout, stderr)."""
    from console.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    env.stdout, env.stderr = out, err
    code = main(list(argv), env)
    return code, out.getvalue(), err.getvalue()
