"""TensorRT timing caches kept per device model and TensorRT version, under the daemon root.

A timing cache records which tactic won for each layer; reusing it makes rebuilds minutes
faster, but one from another TensorRT version is useless at best. ``prepare`` returns this
board and version's cache path and marks the board's caches of other versions stale (so a
JetPack / TensorRT upgrade shows up as stale caches, never silently reused). The index is a
small JSON file written atomically.
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Dict, List, Tuple

from device_runtime.fileio import write_atomic

INDEX = "index.json"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-").lower() or "device"


class TimingCacheStore:
    def __init__(self, root: str) -> None:
        self.directory = os.path.join(root, "timing-caches")

    def path_for(self, board: str, trt_version: str) -> str:
        return os.path.join(self.directory, _slug(board), "trt-%s.cache" % _slug(trt_version))

    def entries(self) -> List[Dict[str, object]]:
        try:
            with open(os.path.join(self.directory, INDEX)) as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return []
        return [entry for entry in data if isinstance(entry, dict)] if isinstance(data, list) else []

    def _save(self, entries: List[Dict[str, object]]) -> None:
        os.makedirs(self.directory, exist_ok=True)
        text = json.dumps(entries, indent=1, sort_keys=True)
        write_atomic(os.path.join(self.directory, INDEX), text.encode("utf-8"))

    def prepare(self, board: str, trt_version: str) -> Tuple[str, List[str]]:
        """This board and version's cache path, and a sentence per cache newly marked stale."""
        path = self.path_for(board, trt_version)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        entries = self.entries()
        notes: List[str] = []
        found = False
        for entry in entries:
            if entry.get("board") != board:
                continue
            if entry.get("trt_version") == trt_version:
                found = True
                entry["stale"] = False
            elif not entry.get("stale"):
                entry["stale"] = True
                entry["stale_since"] = time.time()
                notes.append("the timing cache for TensorRT %s on this board is stale (TensorRT is now %s); "
                             "a new one is built for %s" % (entry.get("trt_version"), trt_version, trt_version))
        if not found:
            entries.append({"board": board, "trt_version": trt_version, "path": path, "stale": False,
                            "created": time.time()})
        self._save(entries)
        return path, notes
