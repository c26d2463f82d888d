"""The append-only, fsync'd activation log ``<root>/history/<name>.jsonl``.

One JSON object a line: ``t``, ``id`` (the action), ``action``, ``who``, ``from``, ``to``,
``why``, ``result`` and ``detail``. An action writes ``result: "started"`` first and one
final line after; a crash in between is completed at start-up with ``"interrupted"``. A torn
last line (the crash hit the append itself) is cut off at start-up.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, List, Optional

from device_runtime.store import fsutil

STARTED = "started"
COMMITTED = "committed"
ROLLED_BACK = "rolled_back"
FAILED = "failed"
INTERRUPTED = "interrupted"
IMPORTED = "imported"
CHANGED = "changed"
FINAL_RESULTS = (COMMITTED, ROLLED_BACK, FAILED, INTERRUPTED)


def history_path(root: str, name: str) -> str:
    return os.path.join(root, "history", name + ".jsonl")


def append(root: str, name: str, action_id: str, action: str, result: str, who: str = "", from_version:
           Optional[str] = None, to_version: Optional[str] = None, why: str = "", detail: str = "",
           t: Optional[float] = None) -> Dict[str, Any]:
    entry = {"t": time.time() if t is None else t, "id": action_id, "action": action, "who": who,
             "from": from_version, "to": to_version, "why": why, "result": result, "detail": detail}
    path = history_path(root, name)
    fsutil.make_dirs(os.path.dirname(path))
    fsutil.append_durable(path, (json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8"))
    return entry


def read(root: str, name: str, limit: int = 0) -> List[Dict[str, Any]]:
    """Entries oldest first (the last ``limit`` when > 0); a torn last line is skipped."""
    try:
        with open(history_path(root, name), "rb") as handle:
            lines = handle.read().split(b"\n")
    except FileNotFoundError:
        return []
    entries: List[Dict[str, Any]] = []
    for line in lines:
        if not line.strip():
            continue
        try:
            entry = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries[-limit:] if limit > 0 else entries


def repair_torn_tail(root: str, name: str) -> bool:
    """Cut a partial last line left by a crash during an append; True when one was cut."""
    path = history_path(root, name)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return False
    if not data or data.endswith(b"\n"):
        return False
    keep = data.rfind(b"\n") + 1
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, keep)
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def open_actions(entries: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """``started`` entries that have no final entry yet."""
    finished = {e.get("id") for e in entries if e.get("result") in FINAL_RESULTS}
    return [e for e in entries if e.get("result") == STARTED and e.get("id") not in finished]
