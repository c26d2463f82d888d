"""Start-up recovery: clean what interrupted steps left, undo unfinished trials, complete the history.

Runs before the daemon serves. Leftovers (staging folders, renamed-aside versions, temporary
symlinks and files) are recognised by name and removed, never activated. A trial without a
commit record comes back on the committed version. Every ``started`` history line gets its
final line. All of it is idempotent: a crash during recovery is recovered by the next start.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
from typing import Any, Dict, List, Tuple

from device_runtime import fileio
from device_runtime.store import history
from device_runtime.store.activation import restore_link
from device_runtime.store.staging import STAGING_PREFIX
from device_runtime.store.store import Store


def _lock_is_free(path: str) -> bool:
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise
    finally:
        os.close(fd)
    return True


def _remove(store: Store, path: str, notes: List[str]) -> None:
    store.fault("cleanup.remove")
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)
    notes.append("removed leftover %s" % os.path.relpath(path, store.root))


def remove_free_stagings(store: Store) -> List[str]:
    """Remove the staging folders no import holds (its child ended, or was killed): at start-up,
    and at once when the daemon sees an import or receiving child die."""
    notes: List[str] = []
    models = store.path("models")
    for entry in sorted(os.listdir(models)):
        path = os.path.join(models, entry)
        staging = entry.startswith(STAGING_PREFIX) and not entry.endswith(".lock") and os.path.lexists(path)
        if staging and _lock_is_free(path + ".lock"):  # an import still running holds it
            _remove(store, path, notes)
            if os.path.exists(path + ".lock"):
                _remove(store, path + ".lock", notes)
    return notes


def cleanup_leftovers(store: Store) -> List[str]:
    notes = remove_free_stagings(store)
    models = store.path("models")
    for entry in sorted(os.listdir(models)):
        path = os.path.join(models, entry)
        if not os.path.lexists(path):  # a staging lock removed with its folder
            continue
        if entry.startswith(STAGING_PREFIX) and not entry.endswith(".lock"):
            continue  # held by a running import
        elif entry.startswith((".trash-", fileio.TMP_PREFIX)) or (
                entry.startswith(STAGING_PREFIX) and not os.path.exists(path[:-5]) and _lock_is_free(path)):
            _remove(store, path, notes)
        elif os.path.isdir(path) and not entry.startswith("."):
            for inner in sorted(os.listdir(path)):
                if inner.startswith((".trash-", fileio.TMP_PREFIX)):
                    _remove(store, os.path.join(path, inner), notes)
    for part in ("active", "state", "config", "history", os.path.join("config", "trusted_keys")):
        directory = store.path(part)
        if not os.path.isdir(directory):
            continue
        for entry in sorted(os.listdir(directory)):
            swap_link = part == "active" and entry.startswith(".") and ".swap-" in entry
            if entry.startswith(fileio.TMP_PREFIX) or swap_link:
                _remove(store, os.path.join(directory, entry), notes)
    return notes


def recover_model(store: Store, name: str) -> List[str]:
    notes: List[str] = []
    torn = history.repair_torn_lines(store.root, name)
    if torn:
        notes.append("%s: cut %d torn line(s) from the history" % (name, torn))
    state = store.state(name)
    active = store.active_version(name)
    trial = state.trial
    if trial is not None:
        if active != state.committed:
            store.fault("recover.swap")
            restore_link(store, name, state.committed)
        reason = ("interrupted: the device stopped during the %s of %s (after the trial began, before its health "
                  "check passed); back on %s" % (trial.action, trial.version, state.committed or "no active version"))
        state.failed[trial.version] = reason
        state.trial = None
        store.fault("recover.record")
        store.save_state(state)
        notes.append("%s: %s" % (name, reason))
    elif active != state.committed and (state.committed is None or os.path.isdir(
            store.version_dir(name, state.committed))):
        store.fault("recover.swap")
        restore_link(store, name, state.committed)
        notes.append("%s: the active link said %s but %s is committed; restored" % (name, active, state.committed))
    entries = history.read(store.root, name)
    for entry in history.open_actions(entries):
        result, why = _outcome(store, name, entries, entry)
        history.append(store.root, name, str(entry.get("id")), str(entry.get("action")), result,
                       who=str(entry.get("who", "")), from_version=entry.get("from"), to_version=entry.get("to"),
                       why=why)
    recorded = {e.get("to") for e in entries if e.get("result") == history.IMPORTED}
    for version in store.stored_versions(name):
        if version not in recorded:
            history.append(store.root, name, "startup", "import", history.IMPORTED, to_version=version,
                           detail="recorded at start-up (the import finished just before the device stopped)")
    return notes


def _outcome(store: Store, name: str, entries: List[Dict[str, Any]], entry: Dict[str, Any]) -> Tuple[str, str]:
    """The final result of an action whose final line is missing, from what the device proves.

    Only the last action started can be judged from the commit record (actions run one at a
    time, so nothing else changed it since): committed when the record names its target and no
    trial is open, interrupted otherwise. An earlier one was followed by other actions that may
    have changed the record: its outcome is recorded as unknown, never guessed.
    """
    state = store.state(name)
    target = str(entry.get("to"))
    position = next(i for i, e in enumerate(entries) if e is entry)
    later = [e for e in entries[position + 1:] if e.get("result") == history.STARTED and e.get("id") != entry.get("id")]
    if later:
        return history.UNKNOWN, ("unknown: its last history line was lost (the device stopped or its disk was "
                                 "full) and later actions followed; %s is committed now" % (
                                     state.committed or "no version"))
    if target == state.committed and target != entry.get("from") and state.trial is None:
        return history.COMMITTED, "completed by recovery: the commit record names %s" % target
    if target != state.committed and target not in state.failed:
        state.failed[target] = ("interrupted: the device stopped during the %s of %s, before the switch; back "
                                "on %s" % (entry.get("action"), target, state.committed or "no active version"))
        store.fault("recover.record")
        store.save_state(state)
    return history.INTERRUPTED, state.failed.get(target, "interrupted: back on %s" % (
        state.committed or "no active version"))


def recover(store: Store) -> List[str]:
    """Bring the store to a consistent state; returns what was done, in words."""
    with store.lock:
        notes = cleanup_leftovers(store)
        for name in store.model_names():
            notes.extend(recover_model(store, name))
        return notes
