"""Writing straight into the partial file of this computer's own device: the device's files are
this user's files, so an upload's bytes need neither the protocol nor a copy through this process."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

from device_runtime.protocol import STORE_UPLOAD_CHUNK


class StreamChanged(Exception):
    """The bytes being sent are not the ones measured before (the file changed)."""


class FileSink:
    """The partial file of this computer's own device, appended to directly."""

    def __init__(self, part: str, offset: int) -> None:
        self._fd = os.open(part, os.O_WRONLY)
        os.lseek(self._fd, offset, os.SEEK_SET)

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def alive(self) -> bool:
        return True

    def abandon(self) -> None:
        self.close()

    def copy_from(self, path: Path, offset: int, size: int, sent: Callable[[int], None] | None) -> None:
        """Append ``path[offset:size]`` in the kernel (sendfile: no copy through this process),
        or by reads and writes where the file systems refuse it."""
        with open(path, "rb", buffering=0) as source:
            while offset < size:
                count = min(STORE_UPLOAD_CHUNK, size - offset)
                try:
                    moved = os.sendfile(self._fd, source.fileno(), offset, count)
                except OSError as exc:
                    if exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                        raise
                    block = os.pread(source.fileno(), count, offset)
                    self.write(block)
                    moved = len(block)
                if not moved:
                    raise StreamChanged("%s became shorter while it was sent" % path)
                offset += moved
                if sent is not None:
                    sent(offset)
        self.close()
