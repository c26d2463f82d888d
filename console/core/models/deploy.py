"""Deploying a model to one device, as one sequence of steps that edgectl and the GUI only present.

A deploy starts from a package file or from an ONNX model, which is packaged on the way (under
the name and version given, by default the file's name and the next patch version the device
lacks; signed when a key is set). Before anything is sent, :meth:`Deploy.preview` says what the
device will get: name, version, what it replaces, the signature and whether the device trusts
it, the size and the model's inputs and outputs. :meth:`Deploy.run` then packages, uploads (by
the route the device's transport offers: its own partial file, SFTP, or protocol chunks) and has
the device import and activate it behind its health check, telling a listener each step as a
:class:`DeployEvent`. :meth:`Deploy.cancel` stops the upload between two blocks: nothing is
imported, and the device keeps the bytes it received, so deploying the same package file again
resumes there. ``edgectl package build`` packages through :func:`package_model`, the same code.
"""

from __future__ import annotations

import enum
import mmap
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.core.devices.client import DeviceError
from console.core.devices.session import DeviceSession
from console.core.models.onnx_skim import skim
from console.core.models.packages import (
    EngineBuild,
    PackageError,
    build_package,
    package_to_send,
    read_head,
    spec_of,
)
from console.core.models.store_client import StoreClient
from console.core.models.tracker import default_model_name, next_version, signer_text
from console.core.text_units import size as size_text
from console.core.transfers.progress import TransferMeter
from console.core.transfers.upload_stream import ByteStream
from device_runtime.package_format.errors import StoreError
from device_runtime.package_format.manifest import Manifest, TensorSpec, check_name, parse_manifest_bytes
from device_runtime.package_format.semver import SemVer
from device_runtime.package_format.signing import Signature, key_id
from device_runtime.package_format.tensors import spell
from device_runtime.protocol import (
    STORE_ACTION_RUNNING,
    STORE_IMPORT,
    STORE_KEYS_LIST,
    STORE_VERSIONS,
    Empty,
    StoreAction,
    StoreImport,
    StoreModelRef,
    StoreVersions,
)

PACKAGE_SUFFIXES = (".tar.gz", ".tgz")


class Phase(str, enum.Enum):
    """The steps of a deploy, in the order a listener hears them (a package file skips the first two)."""

    PACKAGING = "packaging"  # words: the model and what it is packaged as
    PACKAGED = "packaged"  # package: the file written (None: made while it is sent)
    UPLOADING = "uploading"  # words: the package's name; total: its size
    RESUMED = "resumed"  # done: the bytes the device already held when the sending began
    SENT = "sent"  # done / total bytes the device holds, rate_bps and eta_s once measured
    ACTIVATING = "activating"  # action: the device's import (verify, load, warm up, switch, health check)
    FINISHED = "finished"  # action: its final state


@dataclass(frozen=True)
class DeployEvent:
    phase: Phase
    words: str = ""
    done: int = 0
    total: int = 0
    rate_bps: float | None = None
    eta_s: float | None = None
    package: Path | None = None
    action: StoreAction | None = None


DeployListener = Callable[[DeployEvent], None]


class DeployCancelled(Exception):
    """The operator stopped the deploy before the device imported anything."""


class DeploySourceError(Exception):
    """A file that cannot be deployed, in words that say what to pick instead."""


@dataclass(frozen=True)
class PackageBuild:
    """What an ONNX model is packaged as: name, version, author, a signing key (an Ed25519
    private key, or None) and the rest of ``edgectl package build``'s options."""

    name: str
    version: str
    author: str
    key: Any = None
    precision: str | None = None
    security_counter: int = 0
    extra: tuple[Path, ...] = ()
    engine: EngineBuild | None = None
    shapes: dict[str, list[int]] = field(default_factory=dict)
    sample: Path | None = None

    def options(self) -> dict[str, Any]:
        return {"precision": self.precision, "security_counter": self.security_counter, "extra": list(self.extra),
                "engine": self.engine, "shapes": self.shapes, "sample": self.sample}

    def signer(self) -> str | None:
        """The key id the package will be signed with; None: unsigned."""
        if self.key is None:
            return None
        from cryptography.hazmat.primitives import serialization

        return key_id(self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))

    def file_name(self) -> str:
        return "%s-%s.tar.gz" % (self.name, self.version)


def package_model(model: Path, out: Path, build: PackageBuild) -> Manifest:
    """Write the package ``build`` describes for ``model`` to ``out`` (``edgectl package build``)."""
    return build_package(model, out, build.name, build.version, build.author, key=build.key, **build.options())


def is_onnx(path: Path) -> bool:
    return path.suffix.lower() == ".onnx"


def check_source(path: Path) -> None:
    """Refuse what is neither an ONNX model nor a package file, before anything else is read."""
    if not path.is_file():
        raise DeploySourceError("%s is not a file: pick a package or an ONNX model." % path)
    if not is_onnx(path) and not path.name.endswith(PACKAGE_SUFFIXES):
        raise DeploySourceError("%s is neither a .tar.gz package nor an .onnx model." % path.name)


def build_problem(name: str, version: str, versions: StoreVersions | None, device: str) -> str:
    """What is wrong with packaging a model as ``name`` ``version`` for a device holding ``versions``
    of that name, in words; "" when nothing is."""
    try:
        check_name(name)
        SemVer(version)
    except StoreError as exc:
        return exc.message.replace("manifest.json: ", "")
    if versions is not None and version in {v.version for v in versions.versions}:
        return "%s %s is already on %s: give this build a new version (next free: %s)." % (
            name, version, device, next_version(versions))
    return ""


def device_versions(session: DeviceSession, name: str) -> StoreVersions | None:
    """The device's versions of ``name``; None when it cannot say (a new model, an old device)."""
    try:
        return session.call(STORE_VERSIONS, StoreModelRef(name))
    except DeviceError:
        return None


def trusted_keys(session: DeviceSession) -> list[str] | None:
    """The key ids the device trusts; None when it cannot say (a role that may not ask, say)."""
    try:
        return [k.key_id for k in session.call(STORE_KEYS_LIST, Empty()).keys]
    except DeviceError:
        return None


def onnx_build(model: Path, author: str, versions: StoreVersions | None = None, name: str | None = None,
               version: str | None = None, **options: Any) -> PackageBuild:
    """A build of ``model`` under the given name and version, by default its file's name and the
    next patch version after the newest of ``versions`` (the device's versions of that name)."""
    return PackageBuild(name or default_model_name(model), version or next_version(versions), author, **options)


@dataclass(frozen=True)
class DeployPreview:
    """What a deploy will put on the device, read before anything is sent."""

    source: Path
    kind: str  # "package" or "onnx"
    name: str
    version: str
    size_bytes: int  # the file picked (the ONNX model, or the package)
    signer: str | None  # the key id it is (or will be) signed with; None: unsigned
    trusted: bool | None  # whether the device trusts that key; None: unsigned, or not known
    replaces: str | None  # the device's active version of this model; None: nothing of it is active
    exists: bool  # this version is already on the device (the same contents are taken as they are)
    precision: str = ""
    backend: str = ""
    inputs: list[TensorSpec] = field(default_factory=list)
    outputs: list[TensorSpec] = field(default_factory=list)

    @staticmethod
    def onnx_about(size_bytes: int) -> str:
        return "ONNX model, %s: it is packaged as the model and version below." % size_text(size_bytes)

    def about(self) -> str:
        """One line on the file picked."""
        if self.kind == "onnx":
            return self.onnx_about(self.size_bytes)
        return "Package %s %s · %s · %s · %s · %s" % (self.name, self.version, self.precision, self.backend,
                                                     size_text(self.size_bytes),
                                                     signer_text(self.signer).replace("key", "signed by key"))

    def trust_text(self) -> str:
        if self.signer is None:
            return "unsigned (a device that requires signatures refuses it)"
        if self.trusted is None:
            return "signed by key %s" % self.signer
        return "signed by key %s, which the device %s" % (self.signer, "trusts" if self.trusted else
                                                          "does not trust: it will be refused")

    def replaces_text(self) -> str:
        if self.replaces is None:
            return "nothing of %s is active yet" % self.name
        if self.replaces == self.version:
            return "%s is already the active version" % self.version
        return "replaces %s %s (it stays active if anything fails)" % (self.name, self.replaces)

    def tensors_text(self) -> list[str]:
        return (["input  %s %s %s" % (t.name, t.dtype, spell(t.shape)) for t in self.inputs]
                + ["output %s %s %s" % (t.name, t.dtype, spell(t.shape)) for t in self.outputs])

    def lines(self, device: str) -> list[str]:
        """What ``edgectl deploy`` prints before it acts."""
        return ["deploying %s %s to %s: %s" % (self.name, self.version, device, self.replaces_text()),
                "  %s, %s" % (size_text(self.size_bytes), self.trust_text()),
                *("  %s" % line for line in self.tensors_text())]

    def question(self, device: str) -> str:
        """The one question the Deploy wizard asks."""
        after = ("if anything fails, %s stays active." % self.replaces if self.replaces else
                 "if anything fails, nothing is left active.")
        return ("Deploy %s %s to %s? It is verified, loaded and switched in, then health-checked; %s"
                % (self.name, self.version, device, after))


def _device_side(versions: StoreVersions | None, version: str) -> tuple[str | None, bool]:
    if versions is None:
        return None, False
    return versions.active, version in {v.version for v in versions.versions}


def _trust(signer: str | None, trusted: list[str] | None) -> bool | None:
    return None if signer is None or trusted is None else signer in trusted


def preview_package(path: Path, versions: StoreVersions | None = None,
                    trusted: list[str] | None = None) -> DeployPreview:
    """Read a package's manifest and signature (its first two members, nothing more)."""
    try:
        raw, signature = read_head(path)
        manifest = parse_manifest_bytes(raw)
        signer = Signature.parse(signature).key_id if signature is not None else None
    except (PackageError, StoreError) as exc:
        raise DeploySourceError("This is not a model package the device can read: %s" % (
            getattr(exc, "message", None) or exc)) from None
    replaces, exists = _device_side(versions if versions is None or versions.name == manifest.name else None,
                                    manifest.version)
    return DeployPreview(path, "package", manifest.name, manifest.version, path.stat().st_size, signer,
                         _trust(signer, trusted), replaces, exists, manifest.precision, manifest.backend,
                         list(manifest.inputs), list(manifest.outputs))


def preview_onnx(path: Path, build: PackageBuild, versions: StoreVersions | None = None,
                 trusted: list[str] | None = None, manifest: Manifest | None = None,
                 signer: str | None = None) -> DeployPreview:
    """What packaging ``path`` as ``build`` gives: from the manifest once it is made, else from the
    model's graph (read without its weights). ``signer``: the key id of the key it will be signed
    with, when ``build`` does not hold that key yet."""
    if manifest is not None:
        inputs, outputs = list(manifest.inputs), list(manifest.outputs)
        precision, backend = manifest.precision, manifest.backend
    else:
        inputs, outputs = model_tensors(path)
        precision, backend = build.precision or "", "tensorrt" if build.engine is not None else "onnxruntime"
    signer = build.signer() or signer
    replaces, exists = _device_side(versions, build.version)
    return DeployPreview(path, "onnx", build.name, build.version, path.stat().st_size, signer,
                         _trust(signer, trusted), replaces, exists, precision, backend, inputs, outputs)


def model_tensors(path: Path) -> tuple[list[TensorSpec], list[TensorSpec]]:
    """An ONNX model's inputs (initializers aside) and outputs; empty when it cannot be read (the
    packaging says why)."""
    try:
        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            view = memoryview(mapped)
            try:
                model = skim(view)
            finally:
                view.release()
    except Exception:  # any unreadable model: the packaging says why, in words
        return [], []
    initializers = {init.name for init in model.graph.initializer}
    return ([spec_of(v) for v in model.graph.input if v.name not in initializers],
            [spec_of(v) for v in model.graph.output])


class Deploy:
    """One deploy of ``source`` (a package file or a stream made as it is sent, or an ONNX model
    packaged as ``build``) to the device of ``client``. ``scratch`` is a folder the caller owns
    where a package built here is written (when ``stream`` is False, or when it compresses); it is
    deleted once the device holds it, and kept after a stopped or broken upload so that deploying
    it again resumes. ``cancel``: a stop flag the caller may already hold (set before the deploy
    begins, it stops it at once)."""

    def __init__(self, client: StoreClient, source: Path | ByteStream, build: PackageBuild | None,
                 scratch: Path | None, listener: DeployListener | None = None, stream: bool = False,
                 cancel: threading.Event | None = None) -> None:
        self.client = client
        self.source = source
        self.build = build
        self.scratch = scratch
        self.listener = listener
        self.stream = stream
        self.package: Path | ByteStream | None = None if build is not None else source
        if build is not None and not isinstance(source, Path):
            raise ValueError("only a model file can be packaged")
        self.manifest: Manifest | None = None
        self._cancel = cancel if cancel is not None else threading.Event()
        if build is not None and scratch is None:
            raise ValueError("an ONNX model is packaged into a scratch folder: name one")

    @property
    def device(self) -> str:
        return self.client.session.name

    def cancel(self) -> None:
        """Stop before the next block is sent (or before the sending starts); an import the
        device has started goes on to its end."""
        self._cancel.set()

    def _tell(self, event: DeployEvent) -> None:
        if self.listener is not None:
            self.listener(event)

    def _check_cancel(self, where: str) -> None:
        if self._cancel.is_set():
            raise DeployCancelled("the deploy was stopped %s; nothing was sent" % where)

    # -- the steps ---------------------------------------------------------------------------
    def preview(self, versions: StoreVersions | None = None, trusted: list[str] | None = None) -> DeployPreview:
        if not isinstance(self.source, Path):
            raise DeploySourceError("%s is made as it is sent: there is no file to read ahead" % self.source.name)
        if self.build is None:
            return preview_package(self.source, versions, trusted)
        return preview_onnx(self.source, self.build, versions, trusted, self.manifest)

    def ask_preview(self) -> DeployPreview:
        """:meth:`preview` with the device's side filled in: its versions of this model (what the
        deploy replaces) and the keys it trusts."""
        session = self.client.session
        name = self.build.name if self.build is not None else self.preview().name
        return self.preview(device_versions(session, name), trusted_keys(session))

    def make_package(self) -> Path | ByteStream:
        """The package to send: the file given, or the ONNX model packaged now (once)."""
        if self.package is not None:
            return self.package
        build, source = self.build, self.source
        assert build is not None and isinstance(source, Path)
        self._check_cancel("before packaging")
        self._tell(DeployEvent(Phase.PACKAGING, "packaging %s as %s %s" % (source.name, build.name,
                                                                           build.version)))
        scratch = self.scratch
        assert scratch is not None
        if self.stream:
            package = package_to_send(source, scratch, build.name, build.version, build.author,
                                      key=build.key, **build.options())
            self.package = package
        else:
            out = scratch / build.file_name()
            self.manifest = package_model(source, out, build)
            self.package = out
        written = self.package if isinstance(self.package, Path) else None
        self._tell(DeployEvent(Phase.PACKAGED, "packaged %s as %s %s (%s)" % (
            source.name, build.name, build.version, "signed" if build.key is not None else "unsigned"),
            package=written))
        return self.package

    def upload(self) -> str:
        """Send the package into the device's incoming/ (resuming what it holds); its device path."""
        package = self.make_package()
        self._check_cancel("before the upload")
        name = package.name
        size = package.stat().st_size if isinstance(package, Path) else package.size
        self._tell(DeployEvent(Phase.UPLOADING, "uploading %s" % name, 0, size))
        meter = TransferMeter(name, size, self.client.session.clock)

        def started(offset: int, total: int) -> None:
            self._tell(DeployEvent(Phase.RESUMED, "the device holds %s of %s" % (size_text(offset), size_text(total)),
                                   offset, total))

        def sent(done: int, total: int) -> None:
            status = meter.update(done, total)
            self._tell(DeployEvent(Phase.SENT, status.text(self.device), done, total, status.rate_bps, status.eta_s))
            if self._cancel.is_set() and done < total:
                raise DeployCancelled("the upload was stopped at %.1f of %.1f MB; the device keeps what it "
                                      "received" % (done / 1e6, total / 1e6))

        if isinstance(package, Path):
            remote = self.client.upload(package, sent, started)
            if self.build is not None and package.parent == self.scratch:
                package.unlink(missing_ok=True)  # the device has it; it was kept only to resume
        else:
            remote = self.client.upload_stream(package, sent, started)
        return remote

    def activate(self, remote: str, activate: bool = True, allow_downgrade: bool = False, force: bool = False,
                 why: str = "", wait_s: float | None = None) -> StoreAction:
        """The device's import of the uploaded package: verified, stored, then (``activate``)
        loaded, warmed up, switched in and health-checked, or refused with a code and words."""

        def progress(action: StoreAction) -> None:
            final = action.state != STORE_ACTION_RUNNING
            self._tell(DeployEvent(Phase.FINISHED if final else Phase.ACTIVATING,
                                   action.message if final else action.stage, action=action))

        params = StoreImport(remote, activate, self.client.who, why, allow_downgrade, force, wait_s)
        return self.client.run(STORE_IMPORT, params, progress)

    def run(self, activate: bool = True, allow_downgrade: bool = False, force: bool = False, why: str = "",
            wait_s: float | None = None) -> StoreAction:
        """Package (for an ONNX model), upload, import and activate; the device's final action."""
        return self.activate(self.upload(), activate, allow_downgrade, force, why, wait_s)
