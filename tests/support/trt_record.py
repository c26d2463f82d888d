"""What the real TensorRT Python bindings of each recorded wheel register (see trt_names/README.md)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from device_runtime.engines.trt_version import require_version

DATA = Path(__file__).resolve().parents[1] / "engines" / "trt_names"
RECORDED = ("8.6.1", "10.0.1", "10.13.3", "11.1.0")


def record_for(version: str) -> str:
    """The recorded wheel that stands for ``version``: the newest recorded one at or below it, same major."""
    wanted = require_version(version)
    candidates = [r for r in RECORDED if require_version(r).major == wanted.major and require_version(r) <= wanted]
    if not candidates:
        raise ValueError("no recorded TensorRT bindings stand for %s (recorded: %s)" % (version, ", ".join(RECORDED)))
    return candidates[-1]


@functools.cache
def names(record: str) -> frozenset[str]:
    return frozenset((DATA / ("%s.txt" % record)).read_text().split())


@functools.cache
def _tails(record: str) -> tuple[str, ...]:
    return tuple(sorted(names(record)))


def registers(record: str, name: str) -> bool:
    """True when the wheel's strings hold ``name`` whole or as the tail of a longer string (linker merging)."""
    return name in names(record) or any(text.endswith(name) for text in _tails(record))


@functools.cache
def _enums() -> dict[str, dict[str, dict[str, int]]]:
    data: dict[str, dict[str, dict[str, int]]] = json.loads((DATA / "enums.json").read_text())
    return data


def enum_values(record: str, enum: str) -> dict[str, int]:
    """The members of ``enum`` in that version's headers, as the Python bindings name them."""
    return dict(_enums()[record][enum])
