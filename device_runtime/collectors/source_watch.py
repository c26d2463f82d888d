"""Noticing that a sysfs source went away or moved under a running collector.

A held file keeps reading its old inode after the node is removed or replaced (a driver rebind,
a devfreq node renamed by a JetPack upgrade, a tree swapped in a container), so the collector
compares each held path's current inode with the one it holds, every few seconds, and also counts
samples in which declared metrics could not be read. Either makes it look for its sources again.
"""

from __future__ import annotations

import os
from typing import Dict, Iterable, List, Set

from device_runtime.collectors.base import HeldFile

# The held files are checked a fifth at a time, one fifth a second: a stat per file every 5 s
# instead of every second keeps the watch under a tenth of the sampling cost.
WATCH_SLICES = 5
# Consecutive checks with declared metrics unreadable before the collector looks again.
MISSES_BEFORE_REDETECT = 3
# How often a collector that lost a source looks whether it came back: a new look re-opens a few
# dozen files.
RETRY_S = 10.0


def moved(held: Iterable[HeldFile]) -> List[str]:
    """Paths whose file is gone or is no longer the file held open."""
    out = []
    for file in held:
        try:
            now, mine = os.stat(file.path), os.fstat(file.fd)
        except OSError:
            out.append(file.path)
            continue
        if (now.st_ino, now.st_dev) != (mine.st_ino, mine.st_dev):
            out.append(file.path)
    return out


class MissCounter:
    """Counts consecutive checks in which some declared metric was missing from the sample. A look
    that changed nothing (a file that exists but holds garbage) doubles the wait, up to a minute."""

    def __init__(self, limit: int = MISSES_BEFORE_REDETECT) -> None:
        self.first_limit = self.limit = limit
        self.count = 0

    def due(self, declared: Set[str], sample: Dict[str, float]) -> bool:
        self.count = self.count + 1 if not declared <= sample.keys() else 0
        return self.count >= self.limit

    def settle(self, changed: bool) -> None:
        self.count = 0
        self.limit = self.first_limit if changed else min(self.limit * 2, 60)


def changes(before: Dict[str, str], after: Dict[str, str], missing: Dict[str, str]) -> List[str]:
    """What a new look at the sources changed, one line per metric."""
    out = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if new is None:
            out.append("%s: %s is gone; %s" % (name, old, missing.get(name, "no other source found")))
        elif old is None:
            out.append("%s: now read from %s" % (name, new))
        else:
            out.append("%s: now read from %s (was %s)" % (name, new, old))
    return out
