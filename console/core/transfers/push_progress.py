"""What a push reports while it runs: bytes, a recent rate, time left, and why it is waiting.

The rate is measured over the last few seconds (``console.core.transfers.rate_meter``). :class:`Ticker`
hands a fresh snapshot to the listener several times a second whatever the sender is doing, so
a display stays alive through a slow link and a reconnection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

HASHING = "hashing"  # the local file, to name the upload
CONNECTING = "connecting"
SENDING = "sending"
RECONNECTING = "reconnecting"  # the link dropped; waiting for the next attempt
VERIFYING = "verifying"  # the device hashes what arrived
DONE = "done"

TICK_S = 0.2


@dataclass(frozen=True)
class PushProgress:
    state: str
    sent: int  # bytes the device holds or that are on their way to it
    total: int
    rate_bps: float  # over the last few seconds
    elapsed_s: float
    attempt: int
    message: str = ""  # for RECONNECTING: why, and when the next attempt is

    @property
    def fraction(self) -> float:
        return self.sent / self.total if self.total else 1.0

    @property
    def eta_s(self) -> float | None:
        if self.state != SENDING or self.rate_bps <= 0:
            return None
        return max(0.0, self.total - self.sent) / self.rate_bps


ProgressFn = Callable[[PushProgress], None]


class Ticker:
    """Calls ``emit(snapshot())`` every ``interval_s`` on its own thread until :meth:`stop`.

    The listener is only ever called from this thread (and once more by :meth:`stop`'s caller
    after the thread ended), so it never runs twice at the same time."""

    def __init__(self, snapshot: Callable[[], PushProgress], emit: ProgressFn, interval_s: float = TICK_S) -> None:
        self._snapshot = snapshot
        self._emit = emit
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="push-progress", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        # Ticks keep to a grid from the start: a tick that came late (a busy machine, a slow
        # listener) makes the next one come sooner, so the count per second holds.
        due = time.monotonic()
        while True:
            due += self.interval_s
            now = time.monotonic()
            if due < now - self.interval_s:
                due = now  # far behind (the machine stalled): start a new grid rather than burst
            if self._stop.wait(max(0.0, due - now)):
                return
            self._emit(self._snapshot())

    def stop(self, final: bool = True) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        if final:
            self._emit(self._snapshot())
