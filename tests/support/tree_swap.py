"""Helpers for the tests that change sources under a running collector: a clock that is a plain
number, and a symlink swapped atomically, as a bind mount or a package upgrade replaces a tree."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from device_runtime.collectors.source_watch import WATCH_SLICES

BOARDS = Path(__file__).resolve().parents[1] / "fixtures" / "boards"


class _Collector(Protocol):
    def collect(self) -> dict[str, float]: ...


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def point(link: Path, target: Path) -> None:
    """Swap a symlink atomically."""
    tmp = link.with_name(link.name + ".new")
    tmp.symlink_to(target)
    os.replace(tmp, link)


def run_checks(collector: _Collector, clock: Clock, seconds: int = WATCH_SLICES) -> dict[str, float]:
    """Sample once per clock second, long enough for every held file to have been checked."""
    values: dict[str, float] = {}
    for _ in range(seconds):
        clock.now += 1.0
        values = collector.collect()
    return values
