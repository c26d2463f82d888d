"""Activation as a plain sequence of steps, with automatic rollback on any failure.

verify -> load and warm up (child process) -> inhibit gate -> trial record -> swap -> restart
hook -> health check -> commit -> retention. Refusals (unknown version, corrupt, below the
floor, a downgrade without intent, an engine for another stack) are raised before anything is
written. After the trial record, any failure, exception included, swaps back to the previous
version and records why; a crash there is undone at start-up (see :mod:`recovery`).
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from device_runtime import fileio
from device_runtime.package_format.errors import Code, StoreError, as_store_error
from device_runtime.package_format.manifest import Manifest
from device_runtime.package_format.semver import SemVer
from device_runtime.store import history, retention
from device_runtime.store.config import inhibit_path
from device_runtime.store.hooks import run_hook
from device_runtime.store.inhibit import InhibitGate
from device_runtime.store.state import ModelState, Trial
from device_runtime.store.store import Progress, Store, _no_progress
from device_runtime.store.verify import hash_problems

DEPLOY = "deploy"
ACTIVATE = "activate"
ROLLBACK = "rollback"
UNCHANGED = "unchanged"


@dataclass
class Plan:
    name: str
    version: str
    action: str = ACTIVATE
    who: str = ""
    why: str = ""
    allow_downgrade: bool = False
    force: bool = False  # go past a held inhibit lock once the wait is over (audited)
    wait_s: Optional[float] = None  # None: the device's configured inhibit wait


@dataclass
class Outcome:
    name: str
    version: str
    previous: Optional[str]
    result: str  # committed, rolled_back, failed, unchanged
    message: str
    code: str = ""
    action_id: str = ""
    downgrade: bool = False
    steps_s: Dict[str, float] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)


class Activation:
    def __init__(self, store: Store, plan: Plan, progress: Progress = _no_progress) -> None:
        self.store = store
        self.plan = plan
        self.progress = progress
        self.id = uuid.uuid4().hex[:12]
        self.previous: Optional[str] = None
        self.swapped = False
        self.restarted = False
        self.steps_s: Dict[str, float] = {}
        self.notes: List[str] = []
        self.manifest: Optional[Manifest] = None

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def version(self) -> str:
        return self.plan.version

    def _step(self, fraction: float, stage: str) -> float:
        self.progress(fraction, stage)
        return time.perf_counter()

    def _timed(self, key: str, start: float) -> None:
        self.steps_s[key] = time.perf_counter() - start

    def _outcome(self, result: str, message: str, code: str = "") -> Outcome:
        downgrade = self.previous is not None and SemVer(self.version) < SemVer(self.previous)
        return Outcome(self.name, self.version, self.previous, result, message, code, self.id, downgrade,
                       dict(self.steps_s), list(self.notes))

    # -- the sequence -----------------------------------------------------------------------
    def run(self) -> Outcome:
        with self.store.lock:
            state = self.store.state(self.name)
            self.previous = state.committed
            manifest = self._refusals(state)
            self.manifest = manifest
            if state.committed == self.version and self.store.active_version(self.name) == self.version:
                return self._outcome(UNCHANGED, "%s %s is already active" % (self.name, self.version))
            self.store.fault("activate.begin")
            history.append(self.store.root, self.name, self.id, self.plan.action, history.STARTED, who=self.plan.who,
                           from_version=self.previous, to_version=self.version, why=self.plan.why,
                           detail="downgrade" if self._is_downgrade() else "")
            try:
                self._verify(manifest, state)
                self._load(manifest, state)
            except StoreError as exc:
                return self._fail_before_swap(exc, mark_failed=True)
            gate = InhibitGate(inhibit_path(self.store.root, self.store.config()))
            try:
                override = self._gate(gate)
            except StoreError as exc:
                return self._fail_before_swap(exc, mark_failed=False)
            try:
                try:
                    self._trial(override)
                    self._swap()
                    self._restart()
                    self._health()
                finally:
                    gate.release()
                self._commit(manifest)
            except Exception as exc:
                failure = as_store_error(exc, "the switch could not be finished", self.store.root)
                return self._roll_back(failure.message, failure.code)
            self._finish_commit()
            return self._outcome(history.COMMITTED, "%s %s is active and committed" % (self.name, self.version))

    def _is_downgrade(self) -> bool:
        return self.previous is not None and SemVer(self.version) < SemVer(self.previous)

    def _refusals(self, state: ModelState) -> Manifest:
        manifest = self.store.manifest(self.name, self.version)
        if self.version in state.corrupt:
            raise StoreError(Code.CORRUPT, "%s %s failed its integrity check (%s) and is never activated: deploy "
                                           "another version" % (self.name, self.version, state.corrupt[self.version]))
        if manifest.security_counter < state.floor:
            raise StoreError(Code.BELOW_FLOOR, "%s %s has security counter %d, below the floor %d for %s: it can no "
                                               "longer be activated. Deploy a version with counter >= %d."
                             % (self.name, self.version, manifest.security_counter, state.floor, self.name,
                                state.floor))
        if self._is_downgrade() and self.plan.action != ROLLBACK and not self.plan.allow_downgrade:
            raise StoreError(Code.DOWNGRADE, "%s %s is older than the active %s: a downgrade needs explicit intent "
                                             "(edgectl rollback %s --to %s, or deploy --allow-downgrade)"
                             % (self.name, self.version, self.previous, self.name, self.version))
        self.store.check_admissible(manifest)
        return manifest

    def _verify(self, manifest: Manifest, state: ModelState) -> None:
        start = self._step(0.05, "verifying %s %s" % (self.name, self.version))
        directory = self.store.version_dir(self.name, self.version)
        if not self.store.verified.still_verified(self.name, self.version, directory, manifest):
            problems = hash_problems(directory, manifest)
            if problems:
                with self.store.lock:
                    fresh = self.store.state(self.name)
                    fresh.corrupt[self.version] = "; ".join(problems)
                    self.store.save_state(fresh)
                raise StoreError(Code.CORRUPT, "%s %s is damaged on disk (%s) and will not be activated"
                                 % (self.name, self.version, "; ".join(problems)))
            self.store.verified.mark(self.name, self.version, directory, manifest)
        self._timed("verify", start)

    def _load(self, manifest: Manifest, state: ModelState) -> None:
        entry = manifest.file(manifest.entry)
        digest = entry.sha256 if entry else ""
        if self.version in state.known_good or digest in self.store.warm_ok:
            self.notes.append("load check skipped: this exact model already loaded and passed on this device")
            return
        start = self._step(0.15, "loading %s %s and running a warm-up inference" % (self.name, self.version))
        result = self.store.warmup(self.store.version_dir(self.name, self.version))
        self.store.warm_ok[digest] = time.time()
        self.notes.append("loaded with %s in %.2f s, warm-up inference %.1f ms" % (
            result.get("provider", "?"), float(result.get("load_s", 0.0)), float(result.get("infer_ms", 0.0))))
        self._timed("load", start)

    def _gate(self, gate: InhibitGate) -> Optional[str]:
        start = time.perf_counter()
        cfg = self.store.config()
        wait = cfg.inhibit_wait_s if self.plan.wait_s is None else self.plan.wait_s
        override = gate.acquire(wait, self.plan.force, lambda why: self.progress(0.4, why))
        if override:
            self.notes.append(override)
        self._timed("gate", start)
        return override

    def _trial(self, override: Optional[str]) -> None:
        self._step(0.5, "recording the trial of %s %s" % (self.name, self.version))
        state = self.store.state(self.name)
        state.trial = Trial(self.id, self.plan.action, self.version, self.previous, time.time(), self.plan.who,
                            self.plan.why, step="swap")
        self.store.fault("activate.trial")
        self.store.save_state(state)

    def _swap(self) -> None:
        start = self._step(0.55, "switching %s to %s" % (self.name, self.version))
        self.store.fault("activate.swap")
        target = os.path.join("..", "models", self.name, self.version)
        fileio.swap_symlink(self.store.active_link(self.name), target,
                            before_rename=lambda: self.store.fault("activate.swap.rename"))
        self.swapped = True
        self._timed("swap", start)

    def _hook_env(self) -> Dict[str, str]:
        return {"EDGE_MODEL": self.name, "EDGE_VERSION": self.version, "EDGE_PREVIOUS_VERSION": self.previous or "",
                "EDGE_MODEL_DIR": self.store.active_link(self.name), "EDGE_STORE_ROOT": self.store.root}

    def _restart(self) -> None:
        cfg = self.store.config()
        if not cfg.restart_hook:
            return
        start = self._step(0.65, "running the restart hook")
        self.store.fault("activate.hook")
        self.restarted = True
        ok, detail = run_hook(cfg.restart_hook, self._hook_env(), cfg.hook_timeout_s)
        self._timed("restart", start)
        if not ok:
            raise StoreError(Code.HOOK_FAILED, "the restart hook failed: %s" % detail)

    def _health(self) -> None:
        cfg = self.store.config()
        start = self._step(0.8, "health check (grace period %.0f s)" % cfg.health_grace_s)
        self.store.fault("activate.health")
        if cfg.health_hook:
            ok, detail = run_hook(cfg.health_hook, self._hook_env(), cfg.health_grace_s)
            if not ok:
                raise StoreError(Code.HEALTH_FAILED, "the health check failed: %s" % detail)
        elif self.store.health_gate is not None:
            # The daemon's own health checks: the device-wide critical ones and this model's.
            ok, detail = self.store.health_gate(cfg.health_grace_s, self.name)
            if not ok:
                raise StoreError(Code.HEALTH_FAILED, "the health check failed: %s" % detail)
        self._timed("health", start)

    def _commit(self, manifest: Manifest) -> None:
        start = self._step(0.95, "committing %s %s" % (self.name, self.version))
        state = self.store.state(self.name)
        if self.previous is not None and self.previous != self.version:
            state.previous = self.previous
        state.committed = self.version
        state.floor = max(state.floor, manifest.security_counter)
        state.failed.pop(self.version, None)
        if self.version not in state.known_good:
            state.known_good.append(self.version)
        state.trial = None
        self.store.fault("activate.commit")
        self.store.save_state(state)  # the durable commit record
        self._timed("commit", start)

    def _finish_commit(self) -> None:
        self.store.fault("activate.finish")
        history.append(self.store.root, self.name, self.id, self.plan.action, history.COMMITTED, who=self.plan.who,
                       from_version=self.previous, to_version=self.version, why=self.plan.why,
                       detail="; ".join(self.notes))
        try:
            removed = retention.apply(self.store, self.name)
        except (OSError, StoreError) as exc:
            self.notes.append("retention could not remove old versions: %s" % exc)
        else:
            if removed:
                self.notes.append("retention removed %s" % ", ".join(removed))
        self.progress(1.0, "%s %s is active" % (self.name, self.version))

    # -- failure paths ----------------------------------------------------------------------
    def _fail_before_swap(self, exc: StoreError, mark_failed: bool) -> Outcome:
        if mark_failed:
            state = self.store.state(self.name)
            state.failed[self.version] = exc.message
            self.store.save_state(state)
        history.append(self.store.root, self.name, self.id, self.plan.action, history.FAILED, who=self.plan.who,
                       from_version=self.previous, to_version=self.version, why=exc.message)
        return self._outcome(history.FAILED, exc.message, exc.code)

    def _roll_back(self, reason: str, code: str) -> Outcome:
        """Swap back to the previous version, restart it, record why. Raises only if that fails too."""
        self.progress(0.9, "rolling back to %s: %s" % (self.previous or "nothing", reason))
        if self.swapped or self.store.active_version(self.name) == self.version:
            self.store.fault("rollback.swap")
            restore_link(self.store, self.name, self.previous)
        if self.restarted:
            cfg = self.store.config()
            env = self._hook_env()
            env["EDGE_VERSION"] = self.previous or ""
            ok, detail = run_hook(cfg.restart_hook, env, cfg.hook_timeout_s)
            self.notes.append("restart hook after rollback: %s" % ("ok" if ok else detail))
        state = self.store.state(self.name)
        state.failed[self.version] = reason
        state.trial = None
        self.store.fault("rollback.record")
        self.store.save_state(state)
        back = self.previous or "no active version"
        history.append(self.store.root, self.name, self.id, self.plan.action, history.ROLLED_BACK, who=self.plan.who,
                       from_version=self.previous, to_version=self.version, why=reason,
                       detail="; ".join([*self.notes, "back on %s" % back]))
        return self._outcome(history.ROLLED_BACK, "%s %s was rolled back to %s: %s" % (
            self.name, self.version, back, reason), code)


def restore_link(store: Store, name: str, version: Optional[str]) -> None:
    link = store.active_link(name)
    if version is None:
        fileio.remove_link(link)
    else:
        fileio.swap_symlink(link, os.path.join("..", "models", name, version))


def activate(store: Store, plan: Plan, progress: Progress = _no_progress) -> Outcome:
    return Activation(store, plan, progress).run()


def rollback(store: Store, name: str, to: Optional[str] = None, who: str = "", why: str = "",
             force: bool = False, wait_s: Optional[float] = None, progress: Progress = _no_progress) -> Outcome:
    """Return to the previous committed version (or ``to``): the same path, with the operator's intent."""
    state = store.state(name)
    target = to or state.previous
    if target is None:
        raise StoreError(Code.NOT_FOUND, "%s has no previous version to roll back to (active: %s); name one with "
                                         "--to" % (name, state.committed or "none"))
    plan = Plan(name, target, ROLLBACK, who, why or "operator rollback", allow_downgrade=True, force=force,
                wait_s=wait_s)
    return Activation(store, plan, progress).run()
