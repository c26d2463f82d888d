"""How far a file transfer has got, in words a person reads: bytes, rate and time left.

Fed with the (sent, total) pairs an upload reports, it measures the rate over the last few
seconds of this run (bytes a resumed upload found on the device do not count as fast progress,
and a stall shows at once) and says which phase it is in: the local hash before anything moves,
the sending, and the device's own check at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from console.core.text_units import duration
from console.core.text_units import size as size_text
from console.core.transfers.rate_meter import RateMeter

CHECKING = "checking"  # hashing the local file
SENDING = "sending"
VERIFYING = "verifying"  # every byte is there; the device hashes it before it is used
MIN_MEASURED_S = 0.2  # no rate from the first instants: one write filling a socket buffer is not speed


@dataclass(frozen=True)
class TransferStatus:
    name: str
    phase: str
    sent: int
    total: int
    rate_bps: float | None = None
    eta_s: float | None = None

    @property
    def fraction(self) -> float:
        return self.sent / self.total if self.total > 0 else (1.0 if self.phase == VERIFYING else 0.0)

    def text(self, device: str) -> str:
        if self.phase == CHECKING:
            return "Checking %s (%s) before sending it to %s…" % (self.name, size_text(self.total), device)
        if self.phase == VERIFYING:
            return "%s is on %s (%s); the device is checking it…" % (self.name, device, size_text(self.total))
        text = "Sending %s to %s: %s of %s" % (self.name, device, size_text(self.sent), size_text(self.total))
        if self.rate_bps:
            text += " at %s/s" % size_text(self.rate_bps)
        if self.eta_s is not None:
            text += ", %s left" % duration(self.eta_s)
        return text


class TransferMeter:
    """Turns progress callbacks into :class:`TransferStatus`; ``due`` limits how often to report."""

    def __init__(self, name: str, total: int, clock: Callable[[], float] = time.monotonic,
                 interval_s: float = 0.1) -> None:
        self.name = name
        self.total = total
        self._clock = clock
        self.interval_s = interval_s
        self._meter = RateMeter()
        self._last_report = float("-inf")

    def checking(self) -> TransferStatus:
        return TransferStatus(self.name, CHECKING, 0, self.total)

    def update(self, sent: int, total: int) -> TransferStatus:
        now = self._clock()
        self.total = total
        self._meter.add(now, sent)
        rate = self._meter.rate(now) if self._meter.measured_s(now) > MIN_MEASURED_S else 0.0
        eta = (total - sent) / rate if rate > 0 else None
        phase = VERIFYING if sent >= total else SENDING
        return TransferStatus(self.name, phase, sent, total, rate if rate > 0 else None, eta)

    def due(self, status: TransferStatus) -> bool:
        """True when this status should be shown: not more often than ``interval_s``, and always the last."""
        now = self._clock()
        if status.phase == VERIFYING or now - self._last_report >= self.interval_s:
            self._last_report = now
            return True
        return False
