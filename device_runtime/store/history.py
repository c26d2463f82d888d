"""The append-only, fsync'd activation log ``<root>/history/<name>.jsonl``.

One JSON object a line: ``t``, ``id`` (the action), ``action``, ``who``, ``from``, ``to``,
``why``, ``result`` and ``detail``. An action writes ``result: "started"`` first and one
final line after; a crash in between is completed at start-up with ``"interrupted"`` (or
``"unknown"`` where nothing proves what happened). A torn line (the crash or a full disk hit the
append itself) is cut out at start-up, wherever it is, keeping any whole entry glued after it.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, List, Optional

from device_runtime import fileio

STARTED = "started"
COMMITTED = "committed"
ROLLED_BACK = "rolled_back"
FAILED = "failed"
INTERRUPTED = "interrupted"
UNKNOWN = "unknown"  # the final line was lost and nothing on the device proves the outcome
IMPORTED = "imported"
CHANGED = "changed"
FINAL_RESULTS = (COMMITTED, ROLLED_BACK, FAILED, INTERRUPTED, UNKNOWN)


def history_path(root: str, name: str) -> str:
    return os.path.join(root, "history", name + ".jsonl")


def append(root: str, name: str, action_id: str, action: str, result: str, who: str = "", from_version:
           Optional[str] = None, to_version: Optional[str] = None, why: str = "", detail: str = "",
           t: Optional[float] = None) -> Dict[str, Any]:
    entry = {"t": time.time() if t is None else t, "id": action_id, "action": action, "who": who,
             "from": from_version, "to": to_version, "why": why, "result": result, "detail": detail}
    path = history_path(root, name)
    fileio.make_dirs(os.path.dirname(path))
    fileio.append_durable(path, (json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8"))
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
        entry = _entry(line) if line.strip() else None
        if entry is not None:
            entries.append(entry)
    return entries[-limit:] if limit > 0 else entries


def _entry(line: bytes) -> Optional[Dict[str, Any]]:
    try:
        entry = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return entry if isinstance(entry, dict) else None


def _salvage(line: bytes) -> Optional[bytes]:
    """The whole entry at the end of a line whose start is torn (an append cut short, then the
    next one written after it), or None."""
    start = line.find(b'{"', 1)
    while start > 0:
        if _entry(line[start:]) is not None:
            return line[start:]
        start = line.find(b'{"', start + 1)
    return None


def repair_torn_lines(root: str, name: str) -> int:
    """Cut every torn line out of the history (keeping a whole entry glued after one); returns
    how many were cut. The file is rewritten atomically, and only when one was found."""
    path = history_path(root, name)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return 0
    kept: List[bytes] = []
    torn = 0
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        if _entry(line) is not None:
            kept.append(line)
            continue
        torn += 1
        whole = _salvage(line)
        if whole is not None:
            kept.append(whole)
    if torn or (data and not data.endswith(b"\n")):
        fileio.write_atomic(path, b"".join(line + b"\n" for line in kept), 0o644)
    return torn


def open_actions(entries: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """``started`` entries that have no final entry yet."""
    finished = {e.get("id") for e in entries if e.get("result") in FINAL_RESULTS}
    return [e for e in entries if e.get("result") == STARTED and e.get("id") not in finished]
