"""The package manifest: typed, versioned, strictly validated, with one canonical byte form.

The canonical form (sorted keys, no spaces, UTF-8, trailing newline) is what ``manifest.json``
holds inside a package and what the signature covers; a manifest in any other form is refused,
so no byte of it can change without the signature failing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from device_runtime.package_format.errors import Code, StoreError
from device_runtime.package_format.semver import SemVer
from device_runtime.package_format.tensors import DTYPES, MAX_RANK, check_dim, is_fixed

SCHEMA = 1
MANIFEST_FILE = "manifest.json"
SIGNATURE_FILE = "manifest.sig"
MAX_MANIFEST_BYTES = 256 * 1024
MAX_FILES = 256
BACKENDS = ("onnxruntime", "tensorrt")
ROLES = ("model", "engine", "onnx-source", "weights", "sample", "calibration", "timing-cache", "labels", "config",
         "other")  # weights: the model's external data files; sample: the warm-up input (.npz)
ENGINE_TARGETS = ("gpu", "dla0", "dla1")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_PATH_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _bad(message: str) -> StoreError:
    return StoreError(Code.BAD_MANIFEST, "manifest.json: %s" % message)


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise _bad("name %r must be 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or "
                   "digit" % (name,))
    return name


def check_path(path: Any) -> str:
    """A file path inside a package: relative, no '..', no empty or hidden parts, at most 4 deep."""
    if not isinstance(path, str) or not path:
        raise _bad("file path %r must be a non-empty string" % (path,))
    parts = path.split("/")
    if path.startswith("/") or len(parts) > 4 or not all(_PATH_PART.match(p) for p in parts) or ".." in parts:
        raise _bad("file path %r must be relative, at most 4 levels deep, made of letters, digits, '.', '_' "
                   "and '-' (no '..', no absolute paths)" % path)
    if path in (MANIFEST_FILE, SIGNATURE_FILE):
        raise _bad("%r is reserved and cannot be listed as a model file" % path)
    return path


def _expect(data: Dict[str, Any], key: str, kind: Any, where: str, optional: bool = False) -> Any:
    if key not in data or (optional and data[key] is None):
        if optional:
            return None
        raise _bad("%s needs %r" % (where, key))
    value = data[key]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise _bad("%s.%s must be an integer" % (where, key))
    if not isinstance(value, kind):
        raise _bad("%s.%s must be %s" % (where, key, getattr(kind, "__name__", str(kind))))
    return value


def _only(data: Dict[str, Any], allowed: List[str], where: str) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise _bad("%s has unknown field(s) %s (manifest schema %d)" % (where, ", ".join(unknown), SCHEMA))


def _shape(value: Any, where: str) -> List[Any]:
    if not isinstance(value, list) or len(value) > MAX_RANK:
        raise _bad("%s must be a list of at most %d dimensions" % (where, MAX_RANK))
    for dim in value:
        if not check_dim(dim):
            raise _bad("%s has dimension %r: use a size >= 0, a symbol (text), or null or -1 for a dynamic one"
                       % (where, str(dim)[:80]))
    return list(value)


def _int_shape(value: Any, where: str) -> List[int]:
    shape = _shape(value, where)
    if not all(is_fixed(d) for d in shape):
        raise _bad("%s must hold sizes only" % where)
    return [int(d) for d in shape]


@dataclass
class FileEntry:
    path: str
    size: int
    sha256: str
    role: str = "other"

    @classmethod
    def parse(cls, data: Any, where: str) -> FileEntry:
        if not isinstance(data, dict):
            raise _bad("%s must be an object" % where)
        _only(data, ["path", "size", "sha256", "role"], where)
        path = check_path(_expect(data, "path", str, where))
        size = _expect(data, "size", int, where)
        if size < 0:
            raise _bad("%s.size must be >= 0" % where)
        digest = _expect(data, "sha256", str, where)
        if not _SHA256.match(digest):
            raise _bad("%s.sha256 must be 64 lowercase hex digits" % where)
        role = _expect(data, "role", str, where)
        if role not in ROLES:
            raise _bad("%s.role %r is not one of %s" % (where, role, ", ".join(ROLES)))
        return cls(path, size, digest, role)

    def to_dict(self) -> Dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256, "role": self.role}


@dataclass
class TensorSpec:
    name: str
    dtype: str
    shape: List[Any]
    profile: Optional[Dict[str, List[int]]] = None  # min / opt / max for a dynamic input

    @classmethod
    def parse(cls, data: Any, where: str) -> TensorSpec:
        if not isinstance(data, dict):
            raise _bad("%s must be an object" % where)
        _only(data, ["name", "dtype", "shape", "profile"], where)
        name = _expect(data, "name", str, where)
        if not name or len(name) > 256:
            raise _bad("%s.name must be 1-256 characters" % where)
        dtype = _expect(data, "dtype", str, where)
        if dtype not in DTYPES:
            raise _bad("%s.dtype %r is not one of %s" % (where, dtype, ", ".join(DTYPES)))
        shape = _shape(_expect(data, "shape", list, where), where + ".shape")
        profile = _expect(data, "profile", dict, where, optional=True)
        if profile is not None:
            _only(profile, ["min", "opt", "max"], where + ".profile")
            profile = {k: _int_shape(_expect(profile, k, list, where + ".profile"), "%s.profile.%s" % (where, k))
                       for k in ("min", "opt", "max")}
        return cls(name, dtype, shape, profile)

    def to_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": self.shape, "profile": self.profile}


@dataclass
class WarmupSpec:
    """What the warm-up feeds: a shape per input (the ones used, all fixed) and an optional sample file
    (an ``.npz`` of real inputs in the package, whose arrays take precedence)."""

    shapes: Dict[str, List[int]]
    sample: Optional[str] = None

    @classmethod
    def parse(cls, data: Any) -> WarmupSpec:
        if not isinstance(data, dict):
            raise _bad("warmup must be an object")
        _only(data, ["shapes", "sample"], "warmup")
        raw = _expect(data, "shapes", dict, "warmup")
        shapes = {str(k): _int_shape(v, "warmup.shapes[%r]" % k) for k, v in raw.items()}
        sample = _expect(data, "sample", str, "warmup", optional=True)
        return cls(shapes, sample)

    def to_dict(self) -> Dict[str, Any]:
        return {"shapes": self.shapes, "sample": self.sample}


@dataclass
class EngineInfo:
    """What a TensorRT engine was built on: it only runs on the same stack."""

    tensorrt: str
    compute_capability: str
    target: str = "gpu"
    l4t: Optional[str] = None
    jetpack: Optional[str] = None
    version_compatible: bool = False

    @classmethod
    def parse(cls, data: Any) -> EngineInfo:
        where = "engine"
        if not isinstance(data, dict):
            raise _bad("engine must be an object")
        _only(data, ["tensorrt", "compute_capability", "target", "l4t", "jetpack", "version_compatible"], where)
        target = _expect(data, "target", str, where)
        if target not in ENGINE_TARGETS:
            raise _bad("engine.target %r is not one of %s" % (target, ", ".join(ENGINE_TARGETS)))
        compat = _expect(data, "version_compatible", bool, where)
        return cls(
            _expect(data, "tensorrt", str, where),
            _expect(data, "compute_capability", str, where),
            target,
            _expect(data, "l4t", str, where, optional=True),
            _expect(data, "jetpack", str, where, optional=True),
            compat,
        )

    def to_dict(self) -> Dict[str, Any]:
        return {"tensorrt": self.tensorrt, "compute_capability": self.compute_capability, "target": self.target,
                "l4t": self.l4t, "jetpack": self.jetpack, "version_compatible": self.version_compatible}


@dataclass
class Manifest:
    name: str
    version: str
    created: str  # ISO 8601, UTC
    author: str
    backend: str
    entry: str  # the file the backend loads
    files: List[FileEntry]
    inputs: List[TensorSpec]
    outputs: List[TensorSpec]
    precision: str = "fp32"
    recipe: Dict[str, Any] = field(default_factory=dict)  # how the precision was produced
    source_onnx_sha256: Optional[str] = None
    security_counter: int = 0
    engine: Optional[EngineInfo] = None
    warmup: Optional[WarmupSpec] = None  # absent in packages built before warm-up inputs could be given
    schema: int = SCHEMA

    @property
    def semver(self) -> SemVer:
        return SemVer(self.version)

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)

    def file(self, path: str) -> Optional[FileEntry]:
        for entry in self.files:
            if entry.path == path:
                return entry
        return None

    def source_onnx(self) -> Optional[FileEntry]:
        """The ONNX an engine can be rebuilt from, when the package carries it."""
        for entry in self.files:
            if entry.role == "onnx-source" or (entry.role == "model" and entry.path.endswith(".onnx")):
                return entry
        return None

    def to_dict(self) -> Dict[str, Any]:
        data = self._fields()
        if self.warmup is not None:
            data["warmup"] = self.warmup.to_dict()
        return data

    def _fields(self) -> Dict[str, Any]:
        return {
            "schema": self.schema, "name": self.name, "version": self.version, "created": self.created,
            "author": self.author, "backend": self.backend, "entry": self.entry,
            "files": [f.to_dict() for f in self.files], "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs], "precision": self.precision, "recipe": self.recipe,
            "source_onnx_sha256": self.source_onnx_sha256, "security_counter": self.security_counter,
            "engine": self.engine.to_dict() if self.engine else None,
        }

    def canonical_bytes(self) -> bytes:
        return canonical(self.to_dict())

    @classmethod
    def parse(cls, data: Any) -> Manifest:
        if not isinstance(data, dict):
            raise _bad("the top level must be an object")
        schema = _expect(data, "schema", int, "manifest")
        if schema != SCHEMA:
            raise _bad("schema %d is not %d, the one this runtime reads: %s" % (
                schema, SCHEMA, "update the runtime on the device" if schema > SCHEMA else "rebuild the package"))
        _only(data, ["schema", "name", "version", "created", "author", "backend", "entry", "files", "inputs",
                     "outputs", "precision", "recipe", "source_onnx_sha256", "security_counter", "engine", "warmup"],
              "manifest")
        name = check_name(_expect(data, "name", str, "manifest"))
        version = _expect(data, "version", str, "manifest")
        SemVer(version)
        backend = _expect(data, "backend", str, "manifest")
        if backend not in BACKENDS:
            raise _bad("backend %r is not one of %s" % (backend, ", ".join(BACKENDS)))
        raw_files = _expect(data, "files", list, "manifest")
        if not raw_files or len(raw_files) > MAX_FILES:
            raise _bad("files must list 1 to %d files" % MAX_FILES)
        files = [FileEntry.parse(f, "files[%d]" % i) for i, f in enumerate(raw_files)]
        paths = [f.path for f in files]
        if len(set(paths)) != len(paths):
            raise _bad("files lists a path twice")
        for path in paths:
            for other in paths:
                if other.startswith(path + "/"):
                    raise _bad("%r is listed as a file and as a folder of %r" % (path, other))
        entry = _expect(data, "entry", str, "manifest")
        if entry not in paths:
            raise _bad("entry %r is not one of the listed files" % entry)
        source = _expect(data, "source_onnx_sha256", str, "manifest", optional=True)
        if source is not None and not _SHA256.match(source):
            raise _bad("source_onnx_sha256 must be 64 lowercase hex digits")
        counter = _expect(data, "security_counter", int, "manifest")
        if counter < 0:
            raise _bad("security_counter must be >= 0")
        engine_data = data.get("engine")
        engine = EngineInfo.parse(engine_data) if engine_data is not None else None
        if backend == "tensorrt" and engine is None:
            raise _bad("a tensorrt package needs an 'engine' section (TensorRT version, GPU it was built for)")
        if backend == "onnxruntime" and engine is not None:
            raise _bad("an onnxruntime package has no 'engine' section")
        recipe = _expect(data, "recipe", dict, "manifest")
        raw_inputs = _expect(data, "inputs", list, "manifest")
        inputs = [TensorSpec.parse(t, "inputs[%d]" % i) for i, t in enumerate(raw_inputs)]
        warmup = _warmup(data.get("warmup"), inputs, files)
        return cls(
            name=name, version=version, created=_expect(data, "created", str, "manifest"),
            author=_expect(data, "author", str, "manifest"), backend=backend, entry=entry, files=files,
            inputs=inputs,
            outputs=[TensorSpec.parse(t, "outputs[%d]" % i) for i, t in enumerate(_expect(data, "outputs", list,
                                                                                           "manifest"))],
            precision=_expect(data, "precision", str, "manifest"), recipe=recipe, source_onnx_sha256=source,
            security_counter=counter, engine=engine, warmup=warmup, schema=schema,
        )


def _warmup(data: Any, inputs: List[TensorSpec], files: List[FileEntry]) -> Optional[WarmupSpec]:
    if data is None:
        return None
    spec = WarmupSpec.parse(data)
    names = {t.name: t for t in inputs}
    for name, shape in spec.shapes.items():
        tensor = names.get(name)
        if tensor is None:
            raise _bad("warmup.shapes names %r, which is not an input (inputs: %s)" % (name, ", ".join(names)))
        declared = tensor.shape
        fits = len(shape) == len(declared) and all(
            not is_fixed(declared[i]) or declared[i] == size for i, size in enumerate(shape))
        if not fits:
            raise _bad("warmup.shapes[%r] %s does not fit the input's shape %s" % (name, shape, tensor.shape))
    if spec.sample is not None and not any(f.path == spec.sample and f.role == "sample" for f in files):
        raise _bad("warmup.sample %r is not a listed file with role 'sample'" % spec.sample)
    return spec


def canonical(data: Dict[str, Any]) -> bytes:
    return (json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
            + "\n").encode("utf-8")


def _reject_constant(name: str) -> Any:
    raise ValueError("%s is not allowed" % name)


def parse_manifest_bytes(raw: bytes) -> Manifest:
    """Parse ``manifest.json`` bytes; they must be valid, strict and in canonical form."""
    if len(raw) > MAX_MANIFEST_BYTES:
        raise _bad("is %d bytes, over the %d byte limit" % (len(raw), MAX_MANIFEST_BYTES))
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _bad("is not valid JSON (%s)" % str(exc)[:120]) from None
    manifest = Manifest.parse(data)
    if canonical(data) != raw or manifest.canonical_bytes() != raw:
        raise _bad("is not in canonical form (sorted keys, no spaces, one trailing newline, every field "
                   "present): rebuild the package with edgectl package build")
    return manifest
