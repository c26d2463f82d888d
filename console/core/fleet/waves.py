"""Which devices activate in which wave: a canary first, then waves that end at a share of the targets."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_SIZE = re.compile(r"^(\d+)(%?)$")


@dataclass(frozen=True)
class WaveSize:
    """Where a wave ends: a percentage of the targets, or a number of devices (counted from the start)."""

    value: int
    percent: bool

    def end(self, targets: int) -> int:
        return min(targets, math.ceil(targets * self.value / 100) if self.percent else self.value)

    def __str__(self) -> str:
        return "%d%s" % (self.value, "%" if self.percent else "")


def parse_waves(text: str) -> list[WaveSize]:
    """``25%,100%`` or ``2,50%,100%``: each wave ends further than the one before; ValueError says why not."""
    sizes = []
    for part in text.split(","):
        match = _SIZE.match(part.strip())
        if match is None:
            raise ValueError("wave %r is neither a percentage (25%%) nor a number of devices (2)" % part.strip())
        size = WaveSize(int(match.group(1)), bool(match.group(2)))
        if size.value < 1 or (size.percent and size.value > 100):
            raise ValueError("wave %s is out of range (1%%-100%%, or at least 1 device)" % size)
        sizes.append(size)
    return sizes


def plan_waves(devices: list[str], canary: int, sizes: list[WaveSize]) -> list[list[str]]:
    """The devices of each wave, in order; a wave that adds nobody is dropped. The waves must reach every
    device: a rollout that stops short on purpose is a narrower selection, not a plan."""
    if canary < 0:
        raise ValueError("--canary must be 0 or more devices")
    ends = ([min(canary, len(devices))] if canary else []) + [s.end(len(devices)) for s in sizes]
    if not ends or ends[-1] < len(devices):
        reach = ends[-1] if ends else 0
        raise ValueError("the waves end at %d of %d devices; end them with 100%%" % (reach, len(devices)))
    waves, done = [], 0
    for end in ends:
        if end > done:
            waves.append(devices[done:end])
            done = end
    return waves
