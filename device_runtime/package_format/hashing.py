"""sha256 on a thread of its own, for the big reads of an upload or a package.

hashlib lets go of the interpreter while it hashes a big block, so a reader that hands its blocks
to a :class:`BackgroundSha256` keeps reading, inflating and writing while they are hashed on
another core: the hash of a 300 MB model costs about as long as reading it, and it no longer
comes on top of the rest. Blocks must not change once handed over (``bytes``, or a view of bytes).
"""

from __future__ import annotations

import hashlib
from typing import Any, Optional, Union

from device_runtime.fileio import BlockWorker


class BackgroundSha256(BlockWorker):
    """sha256 of the blocks handed over, on a thread started at the first big one."""

    def __init__(self) -> None:
        super().__init__("sha256")
        self._digest: Any = hashlib.sha256()
        self._hex: Optional[str] = None

    def _take(self, block: Union[bytes, memoryview]) -> None:
        self._digest.update(block)

    def update(self, block: Union[bytes, memoryview]) -> None:
        if self._hex is not None:
            raise ValueError("the sha256 was already taken")
        self.put(block)

    def hexdigest(self) -> str:
        """The sha256 of every block handed over (waits for the thread to catch up)."""
        if self._hex is None:
            self.stop()
            self._hex = str(self._digest.hexdigest())
        return self._hex

    def close(self) -> None:
        """End the thread (the digest stays readable)."""
        self.stop()
