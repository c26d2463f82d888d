"""sha256 on a thread of its own, for the big reads of an upload or a package.

hashlib lets go of the interpreter while it hashes a big block, so a reader that hands its blocks
to a :class:`BackgroundSha256` keeps reading, inflating and writing while they are hashed on
another core: the hash of a 300 MB model costs about as long as reading it, and it no longer
comes on top of the rest. Blocks must not change once handed over (``bytes``, or a view of bytes).
"""

from __future__ import annotations

import hashlib
import queue
import threading
from typing import Any, Optional, Union

QUEUE_BLOCKS = 16  # blocks waiting for the hashing thread at most (16 MB of 1 MB reads)
SMALL = 1 << 16  # smaller blocks are hashed at once: a thread's hand-over costs more


class BackgroundSha256:
    def __init__(self) -> None:
        self._digest: Any = hashlib.sha256()
        self._queue: "queue.Queue[Optional[Union[bytes, memoryview]]]" = queue.Queue(QUEUE_BLOCKS)  # noqa: UP037 (3.8)
        self._thread: Optional[threading.Thread] = None
        self._hex: Optional[str] = None

    def _run(self) -> None:
        while True:
            block = self._queue.get()
            if block is None:
                return
            self._digest.update(block)

    def update(self, block: Union[bytes, memoryview]) -> None:
        if self._hex is not None:
            raise ValueError("the sha256 was already taken")
        if len(block) < SMALL and self._thread is None:
            self._digest.update(block)
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sha256", daemon=True)
            self._thread.start()
        self._queue.put(block)

    def hexdigest(self) -> str:
        """The sha256 of every block handed over (waits for the thread to catch up)."""
        if self._hex is None:
            self.close()
            self._hex = str(self._digest.hexdigest())
        return self._hex

    def close(self) -> None:
        """End the thread (the digest stays readable)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
