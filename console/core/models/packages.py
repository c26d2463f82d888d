"""Model packages on the engineer's side: build from an ONNX model, inspect, sign.

The manifest is filled from the model itself (inputs, outputs, hashes) and written in the
canonical form the device verifies (:mod:`device_runtime.package_format.manifest`); ``manifest.json``
is the archive's first member and ``manifest.sig`` its second, so the device can check both
before it unpacks a single model byte.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import mmap
import os
import tarfile
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from console.core.models.onnx_skim import skim
from console.core.models.package_gzip import (
    READ_SIZE,
    STORE_LEVEL,
    CanonicalGzip,
    choose_level,
    stored,
    stored_size,
    stored_trailer,
)
from device_runtime.package_format.errors import StoreError
from device_runtime.package_format.manifest import (
    MANIFEST_FILE,
    SIGNATURE_FILE,
    EngineInfo,
    FileEntry,
    Manifest,
    TensorSpec,
    WarmupSpec,
    check_name,
    check_path,
    parse_manifest_bytes,
)
from device_runtime.package_format.package import GZIP_HEADER, PackageReader
from device_runtime.package_format.semver import SemVer
from device_runtime.package_format.signing import Signature, sign
from device_runtime.package_format.tensors import spec_fields_from_value_info
from device_runtime.package_format.warmup_plan import plan_shapes

_ROLES = {".json": "config", ".yaml": "config", ".txt": "labels", ".names": "labels", ".npy": "calibration",
          ".npz": "calibration", ".cache": "timing-cache", ".engine": "engine", ".plan": "engine",
          ".onnx": "onnx-source"}
INSPECT_LIMIT = 8 << 30
SAMPLE_FILE = "warmup.npz"  # the warm-up sample's name inside a package


class PackageError(Exception):
    """A package that cannot be built, read or signed; the message says what to do."""


@dataclass
class EngineBuild:
    """A TensorRT engine to ship next to its ONNX, and the stack it was built on."""

    path: Path
    tensorrt: str
    compute_capability: str
    target: str = "gpu"
    l4t: str | None = None
    jetpack: str | None = None
    version_compatible: bool = False


@dataclass
class PackageInfo:
    manifest: Manifest
    signer: str | None
    verified: bool  # every file's size and sha256 matched
    size_bytes: int
    problems: list[str] = field(default_factory=list)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def spec_of(value: Any) -> TensorSpec:
    """A graph input or output (an ONNX ValueInfoProto) as the manifest records it."""
    return TensorSpec(*spec_fields_from_value_info(value))


def _precision(model: Any) -> str:
    ops = {node.op_type for node in model.graph.node}
    if "QuantizeLinear" in ops or "DequantizeLinear" in ops:
        return "int8"
    if any(init.data_type == 10 for init in model.graph.initializer):
        return "fp16"
    return "fp32"


QUANTIZE_METADATA = "edge.quantize"  # written by the quantize job: precision, calibration, preprocessing


def quantize_recipe(model: Any) -> dict[str, Any]:
    """How a quantized model was made (its precision, calibration and image preprocessing), from the
    metadata the quantize job stamps into it; empty for any other model or unreadable metadata."""
    for prop in model.metadata_props:
        if prop.key == QUANTIZE_METADATA:
            try:
                record = json.loads(prop.value)
            except ValueError:
                return {}
            return record if isinstance(record, dict) else {}
    return {}


def manifest_for_onnx(model_path: Path, name: str, version: str, author: str, precision: str | None = None,
                      security_counter: int = 0, extra: list[Path] | None = None,
                      engine: EngineBuild | None = None, recipe: dict[str, Any] | None = None,
                      shapes: dict[str, list[int]] | None = None, sample: Path | None = None) -> Manifest:
    """A manifest for an ONNX model (and an optional engine built from it), read from the model.

    ``shapes`` and ``sample`` give the warm-up its inputs; the shapes used are recorded. A model whose
    dynamic inputs have no safe default, or whose external data is missing, is refused here, before a
    byte is written or sent."""

    parsed = _parse(model_path)
    return _manifest(model_path, parsed, parsed.sha256(), name, version, author, precision, security_counter, extra,
                     engine, recipe, shapes, sample)


def _manifest(model_path: Path, parsed: ParsedModel, onnx_sha: str, name: str, version: str, author: str,
              precision: str | None = None, security_counter: int = 0, extra: list[Path] | None = None,
              engine: EngineBuild | None = None, recipe: dict[str, Any] | None = None,
              shapes: dict[str, list[int]] | None = None, sample: Path | None = None) -> Manifest:
    """:func:`manifest_for_onnx` of a parsed model, with ``onnx_sha`` as the model's sha256."""
    try:
        check_name(name)
        SemVer(version)
    except StoreError as exc:
        raise PackageError(exc.message.replace("manifest.json: ", "")) from None
    model, onnx_size = parsed.model, parsed.size
    initializers = {init.name for init in model.graph.initializer}
    inputs = [spec_of(v) for v in model.graph.input if v.name not in initializers]
    outputs = [spec_of(v) for v in model.graph.output]
    files = [FileEntry("model.onnx", onnx_size, onnx_sha, "model" if engine is None else "onnx-source")]
    for arcname, path in external_data_files(model, model_path).items():
        files.append(FileEntry(arcname, path.stat().st_size, sha256_file(path), "weights"))
    warmup = _warmup(inputs, shapes or {}, sample)
    if sample is not None:
        files.append(FileEntry(SAMPLE_FILE, sample.stat().st_size, sha256_file(sample), "sample"))
    engine_info = None
    if engine is not None:
        files.insert(0, FileEntry("model.engine", engine.path.stat().st_size, sha256_file(engine.path), "engine"))
        engine_info = EngineInfo(engine.tensorrt, engine.compute_capability, engine.target, engine.l4t,
                                 engine.jetpack, engine.version_compatible)
    for path in extra or []:
        arcname = path.name
        try:
            check_path(arcname)
        except StoreError as exc:
            raise PackageError(exc.message.replace("manifest.json: ", "")) from None
        if any(f.path == arcname for f in files):
            raise PackageError("two files would be named %s in the package" % arcname)
        files.append(FileEntry(arcname, path.stat().st_size, sha256_file(path), _ROLES.get(path.suffix, "other")))
    created = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Manifest(
        name=name, version=version, created=created, author=author,
        backend="tensorrt" if engine is not None else "onnxruntime",
        entry="model.engine" if engine is not None else "model.onnx", files=files, inputs=inputs,
        outputs=outputs, precision=precision or _precision(model), recipe=recipe or quantize_recipe(model),
        source_onnx_sha256=onnx_sha, security_counter=security_counter, engine=engine_info, warmup=warmup,
    )


PENDING_SHA256 = "0" * 64  # stands for a sha256 still being computed: a manifest's size does not depend on it


class ParsedModel:
    """An ONNX model's graph (skimmed: without its weights' bytes) and size, read from one mapping
    of the file, and its sha256, which a thread computes from the same mapping meanwhile (hashlib
    lets go of the interpreter): :meth:`sha256` waits for it. A file whose graph cannot be read
    is refused (PackageError), and let go of once the hash is done with it."""

    def __init__(self, model_path: Path, size: int, mapped: mmap.mmap | None) -> None:
        self.size = size
        self._mapped = mapped
        self._view = memoryview(mapped if mapped is not None else b"")
        self._digest = hashlib.sha256()
        self._hex: str | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._digest.update, args=(self._view,), name="onnx-sha256",
                                        daemon=True)
        self._thread.start()
        try:
            self.model: Any = skim(self._view)  # the graph without its weights' bytes: packaging never reads them
        except Exception as exc:
            self._thread.join()
            self._release()
            raise PackageError("%s is not an ONNX model: %s" % (model_path, str(exc)[:200])) from None

    def sha256(self) -> str:
        with self._lock:
            if self._hex is None:
                self._thread.join()
                self._hex = self._digest.hexdigest()
                self._release()
            return self._hex

    def _release(self) -> None:
        self._view.release()
        if self._mapped is not None:
            self._mapped.close()


_PARSED: dict[tuple[int, int, int, int], ParsedModel] = {}  # file identity -> its parse
_PARSED_KEEP = 1  # the model being packaged now (a skimmed model may still hold weights in Constant nodes)
_PARSING = threading.Lock()


def prepare_model(model_path: Path) -> None:
    """Parse an ONNX model and start its hash ahead of its packaging (on a thread while the device
    is being reached, say): the package made next from the unchanged file starts from there.
    Problems are left for the packaging itself to report."""
    try:
        _parse(model_path)
    except PackageError:
        return


def _parse(model_path: Path) -> ParsedModel:
    """The model's graph and size, and its sha256 under way, without a copy of the file read into
    memory first. Kept for the unchanged file: :func:`prepare_model` may have done it already."""
    with _PARSING:
        try:
            with open(model_path, "rb") as handle:
                info = os.fstat(handle.fileno())
                identity = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
                if identity in _PARSED:
                    return _PARSED[identity]
                mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if info.st_size else None
        except OSError as exc:
            raise PackageError("cannot read %s: %s" % (model_path, exc.strerror or exc)) from None
        parsed = ParsedModel(model_path, info.st_size, mapped)
        while len(_PARSED) >= _PARSED_KEEP:
            del _PARSED[next(iter(_PARSED))]
        _PARSED[identity] = parsed
        return parsed


def _warmup(inputs: list[TensorSpec], shapes: dict[str, list[int]], sample: Path | None) -> WarmupSpec:
    info: dict[str, tuple[str, list[int]]] = {}
    if sample is not None:
        info = {name: (dtype, list(shape)) for name, (dtype, shape) in read_sample(sample).items()}
    try:
        chosen = plan_shapes(inputs, shapes, info)
    except StoreError as exc:
        raise PackageError(exc.message) from None
    return WarmupSpec(chosen, SAMPLE_FILE if sample is not None else None)


def read_sample(sample: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Each array of a warm-up sample (``.npz``): its dtype and shape."""
    import numpy as np

    try:
        with np.load(sample, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError) as exc:
        raise PackageError("%s is not a NumPy .npz file of input arrays (%s): save one with "
                           "numpy.savez(path, INPUT_NAME=array, ...)" % (sample, exc)) from None
    return {name: (str(a.dtype), tuple(int(d) for d in a.shape)) for name, a in arrays.items()}


def _tensors(graph: Any) -> Iterator[Any]:
    """Every tensor of a graph that can hold weights: initializers and Constant values, subgraphs included."""
    yield from graph.initializer
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("g"):
                yield from _tensors(attribute.g)
            for sub in attribute.graphs:
                yield from _tensors(sub)


def external_data_files(model: Any, model_path: Path) -> dict[str, Path]:
    """The external data files an ONNX model names, each checked to lie beside it (or below)."""
    found: dict[str, Path] = {}
    base = model_path.resolve().parent
    for tensor in _tensors(model.graph):
        if tensor.data_location != 1:  # TensorProto.EXTERNAL
            continue
        location = {entry.key: entry.value for entry in tensor.external_data}.get("location", "")
        if location in found:
            continue
        target = (base / location).resolve()
        if not location or Path(location).is_absolute() or base not in target.parents:
            raise PackageError("%s keeps tensor %r in %r, outside the model's folder: external data must lie "
                               "beside the model (re-save it with onnx.save_model(..., location=FILE_NAME))"
                               % (model_path.name, tensor.name, location))
        try:
            check_path(location)
        except StoreError as exc:
            raise PackageError(exc.message.replace("manifest.json: ", "")) from None
        if location in ("model.onnx", "model.engine", SAMPLE_FILE):
            raise PackageError("%s names its external data %r, a name the package uses itself: re-save it with "
                               "another location" % (model_path.name, location))
        if not target.is_file():
            raise PackageError("%s keeps its weights in %s, which is missing: put %s beside %s" % (
                model_path.name, location, location, model_path))
        found[location] = target
    return found


class _TarWriter:
    """The tar layer of a package, as tarfile's PAX writer lays it out (the same bytes), written in
    1 MB pieces: tarfile's stream writer passed every byte through Python in 10 KB records."""

    def __init__(self, stream: CanonicalGzip) -> None:
        self.stream = stream
        self.offset = 0

    def _write(self, data: bytes | memoryview) -> None:
        self.stream.write(data)
        self.offset += len(data)

    def add(self, arcname: str, data: bytes | None = None, path: Path | None = None) -> None:
        info = tarfile.TarInfo(arcname)
        info.mode = 0o644
        info.mtime = 0
        info.size = len(data) if data is not None else path.stat().st_size if path is not None else 0
        self._write(info.tobuf(tarfile.PAX_FORMAT, tarfile.ENCODING, "surrogateescape"))
        if data is not None:
            self._write(data)
        elif path is not None:
            self._copy(path, info.size)
        if info.size % tarfile.BLOCKSIZE:
            self._write(tarfile.NUL * (tarfile.BLOCKSIZE - info.size % tarfile.BLOCKSIZE))

    def _copy(self, path: Path, size: int) -> None:
        buffer = bytearray(_COPY_CHUNK)
        view = memoryview(buffer)
        left = size
        with open(path, "rb", buffering=0) as handle:
            while left > 0:
                got = handle.readinto(view[:min(left, _COPY_CHUNK)])
                if not got:
                    raise PackageError("%s became shorter while it was packaged: package it again" % path)
                self._write(view[:got])
                left -= got

    def close(self) -> None:
        """The end-of-archive blocks, then padding to a whole tar record (as tarfile does)."""
        self._write(tarfile.NUL * (2 * tarfile.BLOCKSIZE))
        if self.offset % tarfile.RECORDSIZE:
            self._write(tarfile.NUL * (tarfile.RECORDSIZE - self.offset % tarfile.RECORDSIZE))


_COPY_CHUNK = 1 << 20


class PackageStream:
    """A stored package (files that do not compress) made as it is read: the same tar as
    :class:`_TarWriter` lays out, framed in deflate stored blocks, so its size is known before
    its first byte is made and it can go to a device without being written to disk first.

    ``head``: the manifest and signature given are a draft of the final ones' size (the model's
    sha256 is still being computed), and ``head()`` gives the final ones when the first block is
    read. The upload can begin meanwhile: its size is known already."""

    def __init__(self, name: str, manifest_bytes: bytes, signature: bytes | None, files: dict[str, Path],
                 head: Callable[[], tuple[bytes, bytes | None]] | None = None) -> None:
        self.name = name
        self._files = files
        self._head = head
        self._layout(manifest_bytes, signature)
        self.size = self._stream_size()

    def _layout(self, manifest_bytes: bytes, signature: bytes | None) -> None:
        self.pieces: list[tuple[bytes, Path | None, int]] = []  # (bytes, or a file of that size)
        self.tar_size = 0
        self._add(MANIFEST_FILE, manifest_bytes)
        if signature is not None:
            self._add(SIGNATURE_FILE, signature)
        for arcname, path in self._files.items():
            self._add(arcname, path=path)
        end = tarfile.NUL * (2 * tarfile.BLOCKSIZE)
        record = (self.tar_size + len(end)) % tarfile.RECORDSIZE
        self._bytes(end + (tarfile.NUL * (tarfile.RECORDSIZE - record) if record else b""))

    def _stream_size(self) -> int:
        return (len(GZIP_HEADER) + sum(stored_size(p[2] if p[1] is not None else len(p[0])) for p in self.pieces)
                + len(stored_trailer(0, 0)))

    def _final_head(self) -> None:
        if self._head is None:
            return
        manifest_bytes, signature = self._head()
        self._head = None
        self._layout(manifest_bytes, signature)
        if self._stream_size() != self.size:
            raise PackageError("%s changed while it was packaged: package it again" % self.name)

    def _bytes(self, data: bytes) -> None:
        if self.pieces and self.pieces[-1][1] is None:  # one run of blocks for neighbouring headers
            self.pieces[-1] = (self.pieces[-1][0] + data, None, 0)
        else:
            self.pieces.append((data, None, 0))
        self.tar_size += len(data)

    def _add(self, arcname: str, data: bytes | None = None, path: Path | None = None) -> None:
        info = tarfile.TarInfo(arcname)
        info.mode = 0o644
        info.mtime = 0
        info.size = len(data) if data is not None else path.stat().st_size if path is not None else 0
        self._bytes(info.tobuf(tarfile.PAX_FORMAT, tarfile.ENCODING, "surrogateescape"))
        if data is not None:
            self._bytes(data)
        elif path is not None and info.size:
            self.pieces.append((b"", path, info.size))
            self.tar_size += info.size
        if info.size % tarfile.BLOCKSIZE:
            self._bytes(tarfile.NUL * (tarfile.BLOCKSIZE - info.size % tarfile.BLOCKSIZE))

    def blocks(self) -> Iterator[bytes]:
        self._final_head()
        yield GZIP_HEADER
        crc = 0
        for data, path, size in self.pieces:
            if path is None:
                crc = zlib.crc32(data, crc)
                yield stored(data)
                continue
            left = size
            with open(path, "rb", buffering=0) as handle:
                while left > 0:
                    block = handle.read(min(READ_SIZE, left))
                    if not block:
                        raise PackageError("%s became shorter while it was packaged: package it again" % path)
                    crc = zlib.crc32(block, crc)
                    left -= len(block)
                    yield stored(block)
        yield stored_trailer(crc, self.tar_size)


def write_package(out: Path, manifest_bytes: bytes, signature: bytes | None, files: dict[str, Path]) -> None:
    """Write the archive atomically: manifest.json, manifest.sig, then the files in manifest order,
    in a gzip stream with the device's fixed header, stored when the files do not compress."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".%s." % out.name, dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            raw = _Hashing(handle)
            level = choose_level(files.values())
            if level == STORE_LEVEL:
                for block in PackageStream(out.name, manifest_bytes, signature, files).blocks():
                    raw.write(block)
            else:
                stream = CanonicalGzip(raw, level)  # type: ignore[arg-type]
                tar = _TarWriter(stream)
                tar.add(MANIFEST_FILE, manifest_bytes)
                if signature is not None:
                    tar.add(SIGNATURE_FILE, signature)
                for arcname, path in files.items():
                    tar.add(arcname, path=path)
                tar.close()
                stream.close()
        os.replace(tmp, out)
        _WRITTEN[_identity(out)] = raw.digest.hexdigest()
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class _Hashing:
    """A write-only file that hashes what goes through it: the archive's sha256 without reading it again."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        written: int = self.handle.write(data)
        return written


_WRITTEN: dict[tuple[int, int, int, int], str] = {}  # (device, inode, size, mtime_ns) -> sha256


def _identity(path: Path) -> tuple[int, int, int, int]:
    info = path.stat()
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


def known_sha256(path: Path) -> str | None:
    """The sha256 of a package this process wrote, while the file is unchanged; None otherwise."""
    try:
        return _WRITTEN.get(_identity(path))
    except OSError:
        return None


def build_package(model_path: Path, out: Path, name: str, version: str, author: str, key: Any = None,
                  **options: Any) -> Manifest:
    """Build ``out`` from an ONNX model; sign it when ``key`` (an Ed25519 private key) is given."""
    manifest, raw, signature, files = _package_parts(model_path, name, version, author, key, **options)
    write_package(out, raw, signature, files)
    return manifest


def package_to_send(model_path: Path, scratch: Path, name: str, version: str, author: str, key: Any = None,
                    **options: Any) -> Path | PackageStream:
    """The package :func:`build_package` would write, as a stream made while it is sent when its
    files do not compress (nothing written to disk, the model read once more, as it goes);
    otherwise written into ``scratch`` (a compressed size is not known before it is made).

    The stream is handed back before the model's sha256 is known (its manifest is a draft of the
    same size): the device can be told an upload of that size is coming, and start following it,
    while the hash ends; the manifest is completed when the first block is read."""
    parsed = _parse(model_path)
    draft = _manifest(model_path, parsed, PENDING_SHA256, name, version, author, **options)
    files = _package_files(model_path, draft, options)

    def signed(manifest: Manifest) -> tuple[bytes, bytes | None]:
        raw = manifest.canonical_bytes()
        return raw, sign(key, raw).to_bytes() if key is not None else None

    def final() -> tuple[bytes, bytes | None]:
        sha = parsed.sha256()
        return signed(replace(draft, source_onnx_sha256=sha, files=[
            replace(f, sha256=sha) if f.path == "model.onnx" and f.sha256 == PENDING_SHA256 else f
            for f in draft.files]))

    if choose_level(files.values()) == STORE_LEVEL:
        return PackageStream("%s-%s.tar.gz" % (name, version), *signed(draft), files, head=final)
    out = scratch / ("%s-%s.tar.gz" % (name, version))
    write_package(out, *final(), files)
    return out


def _package_files(model_path: Path, manifest: Manifest, options: dict[str, Any]) -> dict[str, Path]:
    """The files of the package of ``manifest``, by their names in it."""
    engine: EngineBuild | None = options.get("engine")
    files = {"model.onnx": model_path}
    if engine is not None:
        files = {"model.engine": engine.path, "model.onnx": model_path}
    files.update({f.path: model_path.resolve().parent / f.path for f in manifest.files if f.role == "weights"})
    if options.get("sample") is not None:
        files[SAMPLE_FILE] = options["sample"]
    for path in options.get("extra") or []:
        files[path.name] = path
    return files


def _package_parts(model_path: Path, name: str, version: str, author: str, key: Any = None,
                   **options: Any) -> tuple[Manifest, bytes, bytes | None, dict[str, Path]]:
    manifest = manifest_for_onnx(model_path, name, version, author, **options)
    files = _package_files(model_path, manifest, options)
    raw = manifest.canonical_bytes()
    signature = sign(key, raw).to_bytes() if key is not None else None
    return manifest, raw, signature, files


def read_head(package: Path, strict_header: bool = True) -> tuple[bytes, bytes | None]:
    try:
        with PackageReader(str(package), INSPECT_LIMIT, strict_header=strict_header) as reader:
            return reader.head()
    except StoreError as exc:
        raise PackageError(exc.message) from None


def inspect_package(package: Path) -> PackageInfo:
    """Read and check a package as the device would (signature trust aside)."""
    problems: list[str] = []
    try:
        with PackageReader(str(package), INSPECT_LIMIT) as reader:
            raw, sig_raw = reader.head()
            manifest = parse_manifest_bytes(raw)
            signer = Signature.parse(sig_raw).key_id if sig_raw is not None else None
            with tempfile.TemporaryDirectory(prefix="eoc-inspect-") as scratch:
                try:
                    reader.extract(manifest, scratch)
                except StoreError as exc:
                    problems.append(exc.message)
    except StoreError as exc:
        raise PackageError(exc.message) from None
    return PackageInfo(manifest, signer, not problems, package.stat().st_size, problems)


def sign_package(package: Path, key: Any, out: Path | None = None) -> Signature:
    """Add (or replace) ``manifest.sig``; the archive is rewritten atomically."""
    target = out or package
    raw, _old = read_head(package, strict_header=False)  # re-signing also rewrites an old gzip header
    try:
        manifest = parse_manifest_bytes(raw)
    except StoreError as exc:
        raise PackageError(exc.message) from None
    signature = sign(key, raw)
    with tempfile.TemporaryDirectory(prefix="eoc-sign-", dir=target.parent) as scratch:
        try:
            with PackageReader(str(package), INSPECT_LIMIT, strict_header=False) as reader:
                reader.head()
                reader.extract(manifest, scratch)
        except StoreError as exc:
            raise PackageError("cannot sign a damaged package: %s" % exc.message) from None
        files = {f.path: Path(scratch) / f.path for f in manifest.files}
        write_package(target, raw, signature.to_bytes(), files)
    return signature
