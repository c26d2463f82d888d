"""Progress of a job on edgectl's stderr: a redrawn bar on a terminal, plain lines elsewhere.

On a terminal the bar is redrawn in place at most ten times a second. In a pipe or a log file
a line is written when the stage or state changes, or every 10 % of progress, so CI logs show
a build that is still moving without filling up with carriage returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from console.core.text_units import duration
from device_runtime.protocol import JobInfo

BAR_WIDTH = 24
REDRAW_S = 0.1


def bar_text(info: JobInfo, width: int = BAR_WIDTH) -> str:
    """``[#########-----------]  45%  build · tactic timing · 1m20s left``."""
    fraction = min(1.0, max(0.0, info.progress))
    filled = round(fraction * width)
    parts = [info.kind, info.stage] if info.state == "running" else [info.kind, info.state]
    if info.state == "running" and info.eta_s is not None:
        parts.append("%s left" % duration(info.eta_s))
    return "[%s%s] %3.0f%%  %s" % ("#" * filled, "-" * (width - filled), fraction * 100,
                                   " · ".join(p for p in parts if p))


def plain_text(info: JobInfo) -> str:
    """``job 3f2a91c0 build: running 45% tactic timing (1m20s left)``."""
    text = "job %s %s: %s %.0f%%" % (info.id, info.kind, info.state, info.progress * 100)
    if info.stage:
        text += " %s" % info.stage
    if info.state == "running" and info.eta_s is not None:
        text += " (%s left)" % duration(info.eta_s)
    return text


class Progress:
    """Shows one job's progress on ``stream``; ``tty`` picks the redrawn bar."""

    def __init__(self, stream: TextIO, tty: bool, clock: Callable[[], float]) -> None:
        self.stream = stream
        self.tty = tty
        self.clock = clock
        self._drawn = False
        self._last_draw = float("-inf")
        self._last_key: tuple[str, str, int] | None = None
        self._last_text = ""

    def update(self, info: JobInfo) -> None:
        if self.tty:
            now = self.clock()
            final = info.state not in ("queued", "running")
            if not final and now - self._last_draw < REDRAW_S:
                return
            self._last_draw = now
            self._draw(bar_text(info))
            return
        key = (info.state, info.stage, int(info.progress * 10))
        if key != self._last_key:
            self._last_key = key
            self.stream.write(plain_text(info) + "\n")
            self.stream.flush()

    def _draw(self, text: str) -> None:
        pad = max(0, len(self._last_text) - len(text))
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._last_text = text
        self._drawn = True

    def message(self, text: str) -> None:
        """A line of its own; the bar is redrawn under it on the next update."""
        self.end()
        self.stream.write(text + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
            self._last_text = ""
