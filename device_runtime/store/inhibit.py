"""Swap gating: the robot's software holds a lock file while it must not be disturbed.

The robot takes ``flock(LOCK_SH)`` (or ``LOCK_EX``) on the inhibit file for as long as a
mission runs and may write a reason into it. An activation needs ``LOCK_EX`` for the swap and
the restart hook: it waits (bounded) and says why, or goes ahead with an audited override.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from typing import IO, Callable, Optional

from device_runtime import fileio
from device_runtime.package_format.errors import Code, StoreError

POLL_S = 0.1


def _reason(handle: IO[bytes]) -> str:
    try:
        handle.seek(0)
        text = handle.read(200).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "no reason given"


class InhibitGate:
    def __init__(self, path: str) -> None:
        self.path = path
        self._handle: Optional[IO[bytes]] = None

    def acquire(self, wait_s: float, force: bool, on_wait: Callable[[str], None],
                cancelled: Callable[[], bool] = lambda: False) -> Optional[str]:
        """Take the lock. Returns None, or the override note when ``force`` went past a holder."""
        fileio.make_dirs(os.path.dirname(self.path))
        handle = open(self.path, "a+b")  # noqa: SIM115 - held until release()
        deadline = time.monotonic() + wait_s
        said = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._handle = handle
                return None
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    handle.close()
                    raise
            reason = _reason(handle)
            if not said:
                on_wait("waiting: the robot's software holds the swap inhibit lock (%s)" % reason)
                said = True
            if time.monotonic() >= deadline or cancelled():
                handle.close()
                if force:
                    return "override: swapped while the robot held the inhibit lock %s (%s)" % (self.path, reason)
                raise StoreError(Code.INHIBITED, "the robot's software holds the swap inhibit lock %s (%s) and did "
                                                 "not release it within %.0f s: try again when the robot is idle, "
                                                 "or override it (--force, recorded in the history)"
                                 % (self.path, reason, wait_s))
            time.sleep(POLL_S)

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
