"""Per-model durable state, ``<root>/state/<name>.json``, rewritten atomically.

``committed`` is the durable commit record: a version becomes the one to come back on only
when this file says so. ``trial`` is written *before* the active link is swapped; a start-up
that finds it rolls the link back to ``committed``. ``floor`` is the security floor: the
highest ``security_counter`` of any committed version; it never falls.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

from device_runtime import fileio
from device_runtime.package_format.errors import Code, StoreError

SCHEMA = 1


@dataclass
class Trial:
    id: str
    action: str  # "deploy", "activate", "rollback"
    version: str
    previous: Optional[str]  # the committed version it replaces (None: nothing was active)
    started: float
    who: str = ""
    why: str = ""
    step: str = "trial"


@dataclass
class ModelState:
    name: str
    committed: Optional[str] = None
    previous: Optional[str] = None  # the version committed before ``committed``: the rollback target
    floor: int = 0
    pinned: List[str] = field(default_factory=list)
    failed: Dict[str, str] = field(default_factory=dict)  # version -> why its activation failed
    corrupt: Dict[str, str] = field(default_factory=dict)  # version -> what the re-hash found
    known_good: List[str] = field(default_factory=list)  # versions committed on this device at some time
    trial: Optional[Trial] = None
    schema: int = SCHEMA

    def to_bytes(self) -> bytes:
        return (json.dumps(asdict(self), sort_keys=True, indent=1) + "\n").encode()

    @classmethod
    def from_bytes(cls, name: str, raw: bytes) -> ModelState:
        data: Any = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict) or data.get("schema") != SCHEMA or data.get("name") != name:
            raise ValueError("not a schema %d state record for %s" % (SCHEMA, name))
        trial = data.pop("trial", None)
        state = cls(**data)
        state.trial = Trial(**trial) if trial else None
        return state


def state_path(root: str, name: str) -> str:
    return os.path.join(root, "state", name + ".json")


def floor_path(root: str, name: str) -> str:
    """Where a removed model's security floor is kept: removing a model must not let an older,
    lower-counter package of the same name back in."""
    return os.path.join(root, "state", ".floor-%s" % name)


def load_state(root: str, name: str) -> ModelState:
    path = state_path(root, name)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        try:
            with open(floor_path(root, name), "rb") as handle:
                return ModelState(name, floor=int(handle.read().decode("ascii").strip() or "0"))
        except (FileNotFoundError, ValueError):
            return ModelState(name)
    try:
        return ModelState.from_bytes(name, raw)
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        # Written only by atomic rename, so damage here is outside damage: say so, never guess.
        raise StoreError(Code.CORRUPT, "%s is damaged (%s): restore it from a backup or remove it to "
                                       "forget %s's state" % (path, exc, name)) from None


def save_state(root: str, state: ModelState) -> None:
    path = state_path(root, state.name)
    fileio.make_dirs(os.path.dirname(path))
    fileio.write_atomic(path, state.to_bytes(), 0o644)
