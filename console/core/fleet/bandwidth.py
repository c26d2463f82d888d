"""A bandwidth cap shared by every upload of a rollout, so twenty robots on one site link leave room for
everything else on it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class SharedRate:
    """All uploads together stay under ``bytes_per_s`` on average. Each upload reports the bytes it has
    sent; the report returns once those bytes fit the rate (the upload's own worker waits, the others go
    on). Bytes a device already held (a resumed upload) were not sent and do not count."""

    def __init__(self, bytes_per_s: float, clock: Callable[[], float] = time.monotonic,
                 wait: Callable[[float], None] = time.sleep) -> None:
        if bytes_per_s <= 0:
            raise ValueError("a bandwidth cap must be more than 0 bytes per second")
        self.bytes_per_s = bytes_per_s
        self._clock = clock
        self._wait = wait
        self._lock = threading.Lock()
        self._free_at = 0.0  # when the bytes reported so far have had their share of the link

    def sent(self, count: int) -> None:
        with self._lock:
            now = self._clock()
            self._free_at = max(self._free_at, now) + count / self.bytes_per_s
            until = self._free_at
        delay = until - self._clock()
        if delay > 0:
            self._wait(delay)

    def follow(self) -> tuple[Callable[[int, int], None], Callable[[int, int], None]]:
        """``(progress, started)`` for one upload (``StoreClient.upload``'s callbacks)."""
        last = [0]

        def started(offset: int, total: int) -> None:
            last[0] = offset

        def progress(done: int, total: int) -> None:
            if done > last[0]:
                count, last[0] = done - last[0], done
                self.sent(count)

        return progress, started
