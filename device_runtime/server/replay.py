"""Replies kept for retried requests, so a request that changes state acts exactly once.

A console whose link dropped before a reply arrived cannot know whether the daemon acted. It
connects again and sends the same request with the same id; the daemon answers from here, with
the very reply the first attempt produced, and does not act again. Entries are keyed by the OS
user, the console instance named in ``hello`` and the request id, shared by every session of
the daemon (the retry comes on a new connection), bounded in count and bytes, and forgotten
after ``ttl_s``. No I/O: the session hands frames in and gets them out.
"""

from __future__ import annotations

import collections
import hashlib
import json
import time
from typing import Any, Callable, Dict, List, Optional, OrderedDict, Tuple

from device_runtime.protocol import ErrorCode, ProtocolError

Key = Tuple[str, str, int]  # (OS user, console instance, request id)
Deliver = Callable[[bytes], None]

MAX_ENTRIES = 4096
MAX_BYTES = 16 << 20
TTL_S = 900.0  # longer than a console keeps retrying (it gives up after 5 minutes)


def params_digest(method: str, params: Dict[str, Any]) -> str:
    """What the request asked for, so an id reused for something else is refused, not answered."""
    text = json.dumps([method, params], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _Entry:
    __slots__ = ("at", "digest", "frame", "waiting")

    def __init__(self, digest: str, at: float) -> None:
        self.digest = digest
        self.frame: Optional[bytes] = None  # None while the first attempt is still being handled
        self.waiting: List[Deliver] = []
        self.at = at


class ReplyCache:
    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES, ttl_s: float = TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: OrderedDict[Key, _Entry] = collections.OrderedDict()
        self._bytes = 0
        self.replayed = 0  # retries answered from here (for logs and tests)

    def __len__(self) -> int:
        return len(self._entries)

    def begin(self, key: Key, digest: str, deliver: Deliver) -> bool:
        """True when ``key`` is new: handle the request, then call :meth:`finish`. False for a
        retry: ``deliver`` gets the kept reply now, or when the first attempt finishes. Raises
        :class:`ProtocolError` when the id was used before for a different request."""
        self._expire()
        entry = self._entries.get(key)
        if entry is None:
            self._entries[key] = _Entry(digest, self._clock())
            return True
        if entry.digest != digest:
            raise ProtocolError(ErrorCode.BAD_FIELD, "request id %d was already used for another request; "
                                "a console must not reuse ids" % key[2], key[2])
        self.replayed += 1
        if entry.frame is None:
            entry.waiting.append(deliver)
        else:
            deliver(entry.frame)
        return False

    def finish(self, key: Key, frame: bytes) -> None:
        """Keep the reply of a request :meth:`begin` let through, and hand it to retries that waited."""
        entry = self._entries.get(key)
        if entry is None or entry.frame is not None:  # evicted while handled, or answered already
            return
        entry.frame = frame
        entry.at = self._clock()
        self._bytes += len(frame)
        waiting, entry.waiting = entry.waiting, []
        self._entries.move_to_end(key)
        for deliver in waiting:
            deliver(frame)
        self._evict()

    def _expire(self) -> None:
        cutoff = self._clock() - self.ttl_s
        while self._entries:
            key, entry = next(iter(self._entries.items()))  # oldest first: begin and finish append
            if entry.at > cutoff:
                return
            self._drop(key)

    def _evict(self) -> None:
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            oldest = next((k for k, e in self._entries.items() if e.frame is not None), None)
            if oldest is None:
                return
            self._drop(oldest)

    def _drop(self, key: Key) -> None:
        entry = self._entries.pop(key)
        if entry.frame is not None:
            self._bytes -= len(entry.frame)
