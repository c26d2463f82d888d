"""Retention: keep the newest N versions of a model, and always the active, previous, trial
and pinned ones. A version is removed by renaming it aside first, so a crash never leaves a
half-deleted version where a complete one is expected."""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Set

from device_runtime import fileio

if TYPE_CHECKING:
    from device_runtime.store.store import Store


def protected(store: Store, name: str) -> Set[str]:
    state = store.state(name)
    keep = set(state.pinned)
    for version in (state.committed, state.previous, store.active_version(name)):
        if version:
            keep.add(version)
    if state.trial is not None:
        keep.add(state.trial.version)
        if state.trial.previous:
            keep.add(state.trial.previous)
    return keep


def apply(store: Store, name: str) -> List[str]:
    """Remove versions beyond the newest ``keep``; returns the removed versions."""
    with store.lock:
        keep = store.config().keep
        newest_first = list(reversed(store.stored_versions(name)))
        safe = protected(store, name)
        removed = []
        for version in newest_first[keep:]:
            if version in safe:
                continue
            store.fault("retention.remove")
            fileio.remove_tree(store.version_dir(name, version))
            store.verified.forget(name, version)
            removed.append(version)
        if removed:
            state = store.state(name)
            for version in removed:
                state.failed.pop(version, None)
                state.corrupt.pop(version, None)
                if version in state.known_good:
                    state.known_good.remove(version)
            store.save_state(state)
        return removed
