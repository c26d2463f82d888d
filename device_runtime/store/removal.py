"""Removing stored versions or a whole model, on the operator's word.

Retention removes old versions on its own; this is the operator's way out of everything else: a
model that was only imported, one whose first deploy failed, a version no one needs. The active
version goes only when the request names it in ``confirm_active`` (the operator saw which one stops
running); pinned versions go only after an unpin. Each removal is recorded in the model's history,
which stays after the model is gone.
"""

from __future__ import annotations

import os
import uuid
from typing import List, Optional

from device_runtime import fileio
from device_runtime.package_format.errors import Code, StoreError
from device_runtime.package_format.manifest import check_name
from device_runtime.store import history
from device_runtime.store.state import floor_path, state_path
from device_runtime.store.store import Store

REMOVE = "remove"
REMOVED = "removed"


def plan_removal(store: Store, name: str, version: Optional[str], confirm_active: Optional[str]) -> List[str]:
    """The versions the request removes; raises StoreError, touching nothing, when it must not go ahead."""
    check_name(name)
    stored = store.stored_versions(name)
    if name not in store.model_names():
        raise StoreError(Code.NOT_FOUND, "there is no model %s on this device (edgectl models lists them)" % name)
    if version is not None and version not in stored:
        raise StoreError(Code.NOT_FOUND, "%s has no version %s (stored: %s)" % (
            name, version, ", ".join(stored) or "none"))
    targets = [version] if version is not None else stored
    state = store.state(name)
    if state.trial is not None:
        raise StoreError(Code.BUSY, "%s is being switched to %s right now: remove it once that has finished" % (
            name, state.trial.version))
    pinned = [v for v in targets if v in state.pinned]
    if pinned:
        raise StoreError(Code.BAD_REQUEST, "%s %s is pinned: unpin it first (edgectl unpin %s %s)" % (
            name, ", ".join(pinned), name, pinned[0]))
    active = store.active_version(name)
    if active is not None and (version is None or version == active) and confirm_active != active:
        what = "the whole model %s" % name if version is None else "%s %s" % (name, active)
        raise StoreError(Code.BAD_REQUEST, "%s %s is the active version: removing %s leaves %s with no active "
                                           "version. Confirm by naming it (edgectl remove %s%s --confirm-active %s)"
                         % (name, active, what, name, name, "" if version is None else " --version %s" % version,
                            active))
    return targets


def remove(store: Store, name: str, version: Optional[str] = None, confirm_active: Optional[str] = None,
           who: str = "", why: str = "") -> List[str]:
    """Remove ``version`` of ``name`` (or the whole model); returns the versions removed."""
    with store.lock:
        targets = plan_removal(store, name, version, confirm_active)
        active = store.active_version(name)
        if active in targets:
            fileio.remove_link(store.active_link(name))
        for target in targets:
            fileio.remove_tree(store.version_dir(name, target))
            store.verified.forget(name, target)
        if version is None:
            fileio.remove_tree(store.path("models", name))
            floor = store.state(name).floor
            if floor > 0:
                fileio.write_atomic(floor_path(store.root, name), b"%d\n" % floor, 0o644)
            try:
                os.unlink(state_path(store.root, name))
            except FileNotFoundError:
                pass
        else:
            state = store.state(name)
            state.failed.pop(version, None)
            state.corrupt.pop(version, None)
            if version in state.known_good:
                state.known_good.remove(version)
            if state.committed == version:
                state.committed = None
            if state.previous == version:
                state.previous = None
            store.save_state(state)
        detail = "removed %s%s" % (", ".join(targets) or "no stored version",
                                   " and the model's state" if version is None else "")
        if active in targets:
            detail += "; %s was the active version, %s now has none" % (active, name)
        history.append(store.root, name, uuid.uuid4().hex[:12], REMOVE, REMOVED, who=who, from_version=active,
                       to_version=version, why=why, detail=detail)
        return targets
