"""The model store on one device: import, queries, pins, keys and policy.

Activation, rollback and start-up recovery live in their own modules and work on this object.
Every mutating step calls ``fault(point)`` first: the daemon passes a no-op, crash tests pass a
hook that kills the process (SIGKILL, ``os._exit``) or raises there. One lock serialises the
mutations of one process.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from device_runtime import fileio
from device_runtime.package_format.errors import Code, StoreError, io_error
from device_runtime.package_format.manifest import (
    MANIFEST_FILE,
    SIGNATURE_FILE,
    Manifest,
    check_name,
    parse_manifest_bytes,
)
from device_runtime.package_format.package import PackageReader
from device_runtime.package_format.semver import SemVer, is_semver
from device_runtime.package_format.signing import PublicKey, Signature, TrustStore, parse_public_key
from device_runtime.package_format.warmup_plan import plan_shapes
from device_runtime.store import config as config_mod
from device_runtime.store import history
from device_runtime.store.compat import StoreFacts, engine_problem
from device_runtime.store.staging import Staged
from device_runtime.store.state import ModelState, load_state, save_state
from device_runtime.store.verify import Verified, read_manifest
from device_runtime.store.warmup import run_warmup

FaultHook = Callable[[str], None]
Progress = Callable[[float, str], None]
Warmup = Callable[[str], Dict[str, Any]]

# Every mutating step, in the order an operation meets them (the crash tests walk this list).
FAULT_POINTS = (
    "upload.append", "upload.finish",
    "import.unpack", "import.fsync", "import.rename", "import.history",
    "activate.begin", "activate.trial", "activate.swap", "activate.swap.rename", "activate.hook",
    "activate.health", "activate.commit", "activate.finish",
    "rollback.swap", "rollback.record",
    "retention.remove", "cleanup.remove", "recover.swap", "recover.record",
)


def _no_fault(point: str) -> None:
    return None


def _no_progress(fraction: float, stage: str) -> None:
    return None


@dataclass
class ImportOutcome:
    manifest: Manifest
    signer: Optional[str]  # key id, None for an unsigned package
    already: bool = False  # the same version with the same contents was already stored


@dataclass
class VersionView:
    version: str
    manifest: Optional[Manifest]
    status: List[str] = field(default_factory=list)  # active, previous, trial, failed, pinned, corrupt
    reason: str = ""
    signer: Optional[str] = None
    imported: float = 0.0


class Store:
    def __init__(self, root: str, facts: Optional[StoreFacts] = None,
                 default_policy: str = config_mod.REQUIRE_SIGNATURE, fault: FaultHook = _no_fault,
                 warmup: Warmup = run_warmup) -> None:
        self.root = os.path.abspath(root)
        self.facts = facts or StoreFacts()
        # Set by the daemon: its health checks, polled until they pass or the grace period ends.
        self.health_gate: Optional[Callable[[float, str], Tuple[bool, str]]] = None  # (grace_s, model)
        self.default_policy = default_policy
        self.fault = fault
        self.warmup = warmup
        self.lock = threading.RLock()
        self.verified = Verified()
        self.warm_ok: Dict[str, float] = {}  # sha256 of an entry file -> when it last loaded here
        for part in ("models", "active", "history", "state", "incoming", "config"):
            fileio.make_dirs(os.path.join(self.root, part))

    # -- paths ------------------------------------------------------------------------------
    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def version_dir(self, name: str, version: str) -> str:
        return self.path("models", name, version)

    def active_link(self, name: str) -> str:
        return self.path("active", name)

    # -- settings ---------------------------------------------------------------------------
    def config(self) -> config_mod.StoreConfig:
        cfg = config_mod.load_config(self.root, self.default_policy)
        if (self.default_policy == config_mod.ALLOW_UNSIGNED and not config_mod.policy_is_set(self.root)
                and self.trust().all_keys()):
            # The local demo device accepts unsigned packages only until a key is trusted (or
            # store.json says allow-unsigned): trusting a key must mean something there too.
            cfg.policy = config_mod.REQUIRE_SIGNATURE
        return cfg

    def save_config(self, cfg: config_mod.StoreConfig, who: str = "") -> None:
        with self.lock:
            before = self.config()
            config_mod.save_config(self.root, cfg)
            changes = ["%s %s -> %s" % (k, getattr(before, k), getattr(cfg, k))
                       for k in ("policy", "keep") if getattr(before, k) != getattr(cfg, k)]
            if changes:
                history.append(self.root, "_settings", uuid.uuid4().hex[:12], "settings", history.CHANGED, who=who,
                               detail="; ".join(changes))

    def trust(self) -> TrustStore:
        return TrustStore(self.path("config", "trusted_keys"))

    def trust_key(self, line: str, who: str = "") -> PublicKey:
        key = parse_public_key(line)
        with self.lock:
            self.trust().trust(key)
            history.append(self.root, "_settings", uuid.uuid4().hex[:12], "trust-key", history.CHANGED, who=who,
                           detail="trusted key %s %s" % (key.key_id, key.comment))
        return key

    # -- queries ----------------------------------------------------------------------------
    def model_names(self) -> List[str]:
        names = set()
        for part in ("models", "state"):
            for entry in os.listdir(self.path(part)):
                base = entry[:-5] if part == "state" and entry.endswith(".json") else entry
                if not base.startswith(".") and (part == "state" or os.path.isdir(self.path(part, entry))):
                    names.add(base)
        return sorted(n for n in names if _valid_name(n))

    def state(self, name: str) -> ModelState:
        return load_state(self.root, name)

    def save_state(self, state: ModelState) -> None:
        save_state(self.root, state)

    def active_version(self, name: str) -> Optional[str]:
        try:
            target = os.readlink(self.active_link(name))
        except OSError:
            return None
        return os.path.basename(target.rstrip("/"))

    def stored_versions(self, name: str) -> List[str]:
        try:
            entries = os.listdir(self.path("models", name))
        except FileNotFoundError:
            return []
        found = [e for e in entries if not e.startswith(".") and is_semver(e) and
                 os.path.isfile(os.path.join(self.path("models", name, e), MANIFEST_FILE))]
        return sorted(found, key=SemVer)

    def manifest(self, name: str, version: str) -> Manifest:
        directory = self.version_dir(name, version)
        if not os.path.isdir(directory):
            raise StoreError(Code.NOT_FOUND, "%s %s is not in this device's store (stored: %s)" % (
                name, version, ", ".join(self.stored_versions(name)) or "none"))
        try:
            return read_manifest(directory)
        except (OSError, StoreError) as exc:
            raise StoreError(Code.CORRUPT, "%s %s has a damaged manifest (%s): it cannot be used" % (
                name, version, getattr(exc, "message", exc))) from None

    def signer(self, name: str, version: str) -> Optional[str]:
        try:
            with open(os.path.join(self.version_dir(name, version), SIGNATURE_FILE), "rb") as handle:
                return Signature.parse(handle.read()).key_id
        except (OSError, StoreError):
            return None

    def versions(self, name: str) -> List[VersionView]:
        check_name(name)
        state = self.state(name)
        active = self.active_version(name)
        views = []
        for version in reversed(self.stored_versions(name)):
            try:
                manifest: Optional[Manifest] = read_manifest(self.version_dir(name, version))
            except (OSError, StoreError):
                manifest = None
            status = []
            reason = ""
            if version == active:
                status.append("active")
            if state.trial is not None and state.trial.version == version:
                status.append("trial")
            if version == state.previous:
                status.append("previous")
            if version in state.pinned:
                status.append("pinned")
            if version in state.failed:
                status.append("failed")
                reason = state.failed[version]
            if version in state.corrupt or manifest is None:
                status.append("corrupt")
                reason = state.corrupt.get(version, "the manifest is damaged")
            imported = os.stat(self.version_dir(name, version)).st_mtime
            views.append(VersionView(version, manifest, status, reason, self.signer(name, version), imported))
        return views

    # -- import -----------------------------------------------------------------------------
    def import_package(self, package: str, who: str = "", why: str = "",
                       progress: Progress = _no_progress) -> ImportOutcome:
        """Verify and unpack a package into ``models/<name>/<version>``, or refuse it untouched."""
        with self.lock:
            reader = PackageReader(package, self.config().max_package_bytes)
            try:
                staged = self.stage(reader, progress)
                if isinstance(staged, ImportOutcome):
                    return staged
                return self.commit_staged(staged, who, why, progress)
            except OSError as exc:
                raise io_error("importing %s" % os.path.basename(package), exc, self.path("models")) from None
            finally:
                reader.close()

    def _admit(self, raw: bytes, sig_raw: Optional[bytes],
               cfg: config_mod.StoreConfig) -> Tuple[Manifest, Optional[str]]:
        """The manifest and the key that signed it, or the refusal: signature, trust, policy."""
        manifest = parse_manifest_bytes(raw)
        signature = Signature.parse(sig_raw) if sig_raw is not None else None
        key = self.trust().check(signature, raw, cfg.policy == config_mod.REQUIRE_SIGNATURE)
        return manifest, key.key_id if key is not None else None

    def stage(self, reader: PackageReader, progress: Progress = _no_progress,
              unpacked: Optional[Callable[[Staged], None]] = None,
              reserve: Callable[[], int] = lambda: 0) -> Union[Staged, ImportOutcome]:
        """Check a package (manifest, signature, admission, space) and unpack it into a staging
        folder, every file hashed and fsync'd; an ImportOutcome when this very version is stored
        already. A refusal leaves nothing behind. ``unpacked`` hears of the staging folder once
        every file in it matched its sha256, before the fsyncs (a warm-up may start then);
        ``reserve`` is disk space others still need on top (the rest of an upload arriving)."""
        with self.lock:
            cfg = self.config()
            progress(0.0, "reading the manifest")
            raw, sig_raw = reader.head()
            manifest, signer = self._admit(raw, sig_raw, cfg)
            progress(0.05, "signature %s" % ("by key %s verified" % signer if signer else "absent (allowed)"))
            self.check_admissible(manifest)
            check_warmup(manifest)
            if os.path.isdir(self.version_dir(manifest.name, manifest.version)):
                outcome = self._same_as_stored(manifest, raw, sig_raw, signer)
                reader.extract(manifest, None)  # the same manifest, but its files must still be sound
                return outcome
            self._check_space(manifest, cfg, reserve())
            staged = Staged.create(self.path("models"), manifest, raw, sig_raw, signer)
            try:
                reader.extract(manifest, staged.path, lambda f, s: progress(0.05 + 0.85 * f, s),
                               lambda _name: self.fault("import.unpack"))
                if unpacked is not None:
                    unpacked(staged)
                self.fault("import.fsync")
                staged.seal()
            except BaseException:
                staged.release(remove=True)
                raise
            return staged

    def commit_staged(self, staged: Staged, who: str = "", why: str = "", progress: Progress = _no_progress,
                      recheck: bool = False) -> ImportOutcome:
        """Rename a staged version into the store and record it. ``recheck`` applies the trust and
        admission checks again, for a version staged while its upload was still arriving."""
        manifest = staged.manifest
        existing = self.version_dir(manifest.name, manifest.version)
        model_dir = self.path("models", manifest.name)
        created_model_dir = False
        renamed = False
        with self.lock:
            try:
                if recheck:
                    self._admit(staged.raw, staged.sig_raw, self.config())
                    self.check_admissible(manifest)
                    if os.path.isdir(existing):
                        return self._same_as_stored(manifest, staged.raw, staged.sig_raw, staged.signer)
                created_model_dir = not os.path.isdir(model_dir)
                fileio.make_dirs(model_dir)
                self.fault("import.rename")
                os.rename(staged.path, existing)
                renamed = True
                fileio.fsync_dir(model_dir)
                fileio.fsync_dir(self.path("models"))
                created_model_dir = False
                self.fault("import.history")
                history.append(self.root, manifest.name, uuid.uuid4().hex[:12], "import", history.IMPORTED, who=who,
                               to_version=manifest.version, why=why,
                               detail="signed by %s" % staged.signer if staged.signer else "unsigned")
                self.verified.mark(manifest.name, manifest.version, existing, manifest)
                progress(1.0, "imported %s %s" % (manifest.name, manifest.version))
                return ImportOutcome(manifest, staged.signer)
            finally:
                staged.release(remove=not renamed)
                if created_model_dir:
                    try:
                        os.rmdir(model_dir)
                    except OSError:
                        pass

    def check_admissible(self, manifest: Manifest) -> None:
        """Refusals that do not depend on the files: the security floor and engine compatibility."""
        state = self.state(manifest.name)
        if manifest.security_counter < state.floor:
            raise StoreError(Code.BELOW_FLOOR, "%s %s has security counter %d, below this device's floor %d for %s "
                                               "(raised when a version with counter %d was committed): an old package "
                                               "cannot be replayed. Deploy a version with counter >= %d."
                             % (manifest.name, manifest.version, manifest.security_counter, state.floor,
                                manifest.name, state.floor, state.floor))
        problem = engine_problem(manifest, self.facts)
        if problem is not None:
            raise StoreError(Code.INCOMPATIBLE_ENGINE, problem)

    def _same_as_stored(self, manifest: Manifest, raw: bytes, sig_raw: Optional[bytes],
                        signer: Optional[str]) -> ImportOutcome:
        directory = self.version_dir(manifest.name, manifest.version)
        try:
            with open(os.path.join(directory, MANIFEST_FILE), "rb") as handle:
                stored = handle.read()
        except OSError:
            stored = b""
        if stored != raw:
            raise StoreError(Code.VERSION_CONFLICT, "%s %s is already stored with different contents: a version is "
                                                    "immutable, give the new build a new version number"
                             % (manifest.name, manifest.version))
        return ImportOutcome(manifest, signer or self.signer(manifest.name, manifest.version), already=True)

    def _check_space(self, manifest: Manifest, cfg: config_mod.StoreConfig, reserve: int = 0) -> None:
        free = fileio.free_bytes(self.path("models")) - reserve
        margin = config_mod.reserve_bytes(cfg, self.path("models"))
        need = manifest.total_size + margin
        if free < need:
            raise StoreError(Code.NO_SPACE, "not enough disk space for %s %s: it needs %.1f MB (with a %.1f MB margin) "
                                            "and %.1f MB are free. Remove old versions (retention keeps %d) or free "
                                            "space on the device." % (manifest.name, manifest.version, need / 1e6,
                                                                       margin / 1e6, free / 1e6, cfg.keep))

    # -- pins -------------------------------------------------------------------------------
    def pin(self, name: str, version: str, pinned: bool, who: str = "") -> ModelState:
        with self.lock:
            self.manifest(name, version)
            state = self.state(name)
            if pinned and version not in state.pinned:
                state.pinned.append(version)
            elif not pinned and version in state.pinned:
                state.pinned.remove(version)
            else:
                return state
            self.save_state(state)
            history.append(self.root, name, uuid.uuid4().hex[:12], "pin" if pinned else "unpin", history.CHANGED,
                           who=who, to_version=version)
            return state


def check_warmup(manifest: Manifest) -> None:
    """A package that records no warm-up inputs (built by an older console or another tool) must still
    have inputs the warm-up can feed safely; refused here, before anything is stored."""
    if manifest.backend != "onnxruntime" or manifest.warmup is not None:
        return
    try:
        plan_shapes(manifest.inputs, {}, {})
    except StoreError as exc:
        raise StoreError(Code.BAD_MANIFEST, "%s %s records no warm-up inputs and %s. Rebuild the package with "
                                            "edgectl package build ... --shape NAME:DxD or --sample FILE.npz"
                         % (manifest.name, manifest.version, exc.message.replace("add --shape", "it needs --shape")
                            )) from None


def _valid_name(name: str) -> bool:
    try:
        check_name(name)
    except StoreError:
        return False
    return True


def now() -> float:
    return time.time()
