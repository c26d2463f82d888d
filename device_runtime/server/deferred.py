"""Replies computed off the daemon's event loop.

Handlers answer on the loop, which also paces telemetry and serves every other client, so a
handler whose work takes long (hashing a 100 MB upload) returns a :class:`Deferred` instead of
its record: the work runs on a worker thread and the session sends the reply, on the loop,
once it is ready. Replies are matched to requests by id, so others may overtake it.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Callable, Optional, Tuple

from device_runtime.protocol import Record

Done = Callable[[Optional[Record], Optional[BaseException]], None]


class Deferred:
    def __init__(self, work: Callable[[], Record], name: str = "deferred-reply") -> None:
        self.work = work
        self.name = name

    def start(self, done: Done) -> None:
        """Run the work on a thread and call ``done(record, None)`` or ``done(None, error)`` on
        the running loop; without a running loop (a session driven by hand) it runs inline."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            done(*self._run())
            return

        def run() -> None:
            result = self._run()
            try:
                loop.call_soon_threadsafe(done, *result)
            except RuntimeError:  # the loop closed: the daemon is shutting down, nobody waits
                pass

        threading.Thread(target=run, name=self.name, daemon=True).start()

    def _run(self) -> Tuple[Optional[Record], Optional[BaseException]]:
        try:
            return self.work(), None
        except Exception as exc:
            return None, exc
