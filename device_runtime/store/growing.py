"""Reading an upload while it is still being written, hashing every byte handed out.

The sender appends to ``incoming/<sha256>.part`` (over SFTP, or through the daemon); a reader
of that file gets what is there and waits, polling its size, for the rest, up to the size the
sender announced. The sha256 of exactly the bytes it handed out is the proof that what was
unpacked from them is the file announced. A sender that stops for ``idle_s`` ends the read.
"""

from __future__ import annotations

import io
import os
import threading
import time
from typing import Any, Callable, Optional

from device_runtime.package_format.hashing import BackgroundSha256

POLL_MIN_S = 0.001
POLL_MAX_S = 0.01


class Stalled(Exception):
    """No byte arrived for the idle limit, or the reader was cancelled."""


class GrowingFile(io.RawIOBase):
    def __init__(self, path: str, size: int, idle_s: float = 60.0,
                 cancel: Optional[threading.Event] = None,
                 on_complete: Optional[Callable[[str], None]] = None) -> None:
        """``on_complete`` hears the sha256 as soon as the last byte was read (before whatever
        the reader still does with the bytes)."""
        super().__init__()
        self._fd = os.open(path, os.O_RDONLY)
        self.size = size
        self.offset = 0
        self.idle_s = idle_s
        self.cancel = cancel or threading.Event()
        self.digest = BackgroundSha256()  # hashed on a thread of its own, beside the unpacking
        self._on_complete = on_complete

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self.digest.close()
        super().close()

    def read(self, size: Optional[int] = -1) -> bytes:
        left = self.size - self.offset
        if left <= 0:
            return b""
        want = left if size is None or size < 0 else min(size, left)
        wait = POLL_MIN_S
        since = time.monotonic()
        while True:
            data = os.pread(self._fd, want, self.offset)
            if data:
                break
            if time.monotonic() - since > self.idle_s:
                raise Stalled("no bytes arrived for %.0f s (%d of %d received)" % (self.idle_s, self.offset, self.size))
            if self.cancel.wait(wait):
                raise Stalled("cancelled")
            wait = min(wait * 2, POLL_MAX_S)
        self.offset += len(data)
        self.digest.update(data)
        if self.offset >= self.size and self._on_complete is not None:
            self._on_complete(self.hexdigest())
            self._on_complete = None
        return data

    def readinto(self, target: Any) -> int:
        data = self.read(len(target))
        target[:len(data)] = data
        return len(data)

    @property
    def complete(self) -> bool:
        return self.offset >= self.size

    def hexdigest(self) -> str:
        return self.digest.hexdigest()
