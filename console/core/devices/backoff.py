"""When to try a dropped link again: exponential backoff with jitter.

:class:`Backoff` has no I/O and no clock: it only hands out delays, so the policy is tested as a
plain sequence of numbers, and many consoles losing one bastion do not retry in lock-step.
:class:`ReconnectLoop` is the thin thread that sleeps those delays between attempts.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays ``initial_s * factor**n`` capped at ``max_s``, each spread by +/- ``jitter`` (a fraction)."""

    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 30.0
    jitter: float = 0.2
    rng: random.Random = field(default_factory=random.Random, repr=False)
    attempt: int = 0

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.max_s < self.initial_s:
            raise ValueError("backoff needs 0 < initial_s <= max_s (got %r, %r)" % (self.initial_s, self.max_s))
        if self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError("backoff needs factor >= 1 and 0 <= jitter < 1")

    def next_delay(self) -> float:
        """The wait before the next attempt; each call counts one attempt."""
        base = min(self.max_s, self.initial_s * self.factor ** min(self.attempt, 64))
        self.attempt += 1
        spread = base * self.jitter
        return min(self.max_s, max(0.0, base + self.rng.uniform(-spread, spread)))

    def reset(self) -> None:
        """A connection succeeded: the next drop starts again from ``initial_s``."""
        self.attempt = 0


class ReconnectLoop:
    """Runs ``attempt`` on its own thread until it succeeds, waiting ``backoff`` delays in between.

    ``on_wait(delay_s, reason, attempt)`` is told before each wait; an exception for which
    ``permanent(exc)`` is true ends the loop through ``on_give_up(exc)``. :meth:`stop` wakes the
    wait at once, so closing a session never hangs on a sleeping retry.
    """

    def __init__(self, backoff: Backoff, attempt: Callable[[], None],
                 on_wait: Callable[[float, str, int], None], on_give_up: Callable[[Exception], None],
                 permanent: Callable[[Exception], bool], retry_on: tuple[type[Exception], ...]) -> None:
        self.backoff = backoff
        self._attempt = attempt
        self._on_wait = on_wait
        self._on_give_up = on_give_up
        self._permanent = permanent
        self._retry_on = retry_on
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._active = False  # a loop thread is running and has not yet decided to finish
        self._again = False  # the link dropped again while an attempt was under way
        self._thread: threading.Thread | None = None

    def start(self, reason: str) -> None:
        with self._lock:
            if self._active:
                self._again = True
                return
            self._active, self._again = True, False
        self.backoff.reset()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(reason,), name="reconnect", daemon=True)
        self._thread.start()

    def _finish(self) -> bool:
        """End the loop unless the link dropped again meanwhile (then keep going)."""
        with self._lock:
            if self._again and not self._stop.is_set():
                self._again = False
                return False
            self._active = False
            return True

    def _run(self, reason: str) -> None:
        while True:
            delay = self.backoff.next_delay()
            self._on_wait(delay, reason, self.backoff.attempt)
            if self._stop.wait(delay):
                self._finish()
                return
            try:
                self._attempt()
            except self._retry_on as exc:
                if self._stop.is_set() or self._permanent(exc):
                    self._finish()
                    if not self._stop.is_set():
                        self._on_give_up(exc)
                    return
                reason = str(exc)
                continue
            if self._finish():
                self.backoff.reset()
                return
            reason = "the link dropped again right after reconnecting"

    def join(self, timeout: float | None = None) -> None:
        """Wait for the loop's thread to end (it ends on success, on giving up, or on stop)."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        with self._lock:
            return self._active

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)
