"""Helpers for the tests that change sources under a running collector: a clock that is a plain
number, and a symlink swapped atomically, as a bind mount or a package upgrade replaces a tree."""

from __future__ import annotations

import os
from pathlib import Path


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
