"""glibc malloc tuning for the store's short-lived children (elsewhere, another libc: no-ops).

Big loads and unpacks allocate hundreds of megabytes in blocks of a megabyte or more. glibc
serves each such block with a fresh mmap and unmaps it on free, so every page of it is faulted
in anew (a few microseconds a page: a fifth of a second for 300 MB). A process that lives for
one unpack or one load may instead keep its freed heap, and fault pages in ahead of time while
it would otherwise wait.
"""

from __future__ import annotations

import ctypes
from typing import Any, Optional

M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
M_MMAP_MAX = -4
KEEP_HEAP_BYTES = 64 << 20
INT_MAX = (1 << 31) - 1
MAX_RESERVE_BYTES = INT_MAX - 2 * KEEP_HEAP_BYTES  # below the trim threshold, or it is given back at once


def _libc() -> Optional[Any]:
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt  # noqa: B018 (glibc's, or not there)
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def keep_heap(keep_bytes: int = KEEP_HEAP_BYTES) -> None:
    """Let malloc reuse freed megabyte blocks instead of mapping fresh pages for each: blocks up
    to ``keep_bytes`` come from the heap, which keeps up to twice that much freed memory."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(M_MMAP_THRESHOLD, keep_bytes)
        libc.mallopt(M_TRIM_THRESHOLD, 2 * keep_bytes)


def give_heap_back() -> None:
    """Return the freed heap to the system (before waiting idle)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def available_bytes(meminfo: str = "/proc/meminfo") -> int:
    """MemAvailable, or 0 where it cannot be read."""
    try:
        with open(meminfo, "rb") as handle:
            for line in handle:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return 0
    return 0


def reserve_heap(size: int, share_of_available: float = 0.25) -> int:
    """Make the next ``size`` bytes of allocations cost no page fault: every block, however big,
    comes from the heap from now on, which is grown by ``size`` bytes, touched and freed (and
    kept). Capped at ``share_of_available`` of the memory available now, so that it never
    crowds out the rest of the device; the bytes reserved (0 where nothing was)."""
    libc = _libc()
    if libc is None or size <= 0:
        return 0
    size = min(size, int(available_bytes() * share_of_available), MAX_RESERVE_BYTES)
    libc.mallopt(M_MMAP_MAX, 0)  # no block gets pages of its own, faulted in anew
    libc.mallopt(M_TRIM_THRESHOLD, INT_MAX)  # freed heap is kept (mallopt takes a C int)
    libc.mallopt(M_TOP_PAD, KEEP_HEAP_BYTES)  # the heap grows in steps of this size
    if size <= 0:
        return 0
    libc.malloc.restype = ctypes.c_void_p
    block = libc.malloc(ctypes.c_size_t(size))
    if not block:
        return 0
    libc.memset(ctypes.c_void_p(block), 0, ctypes.c_size_t(size))
    libc.free(ctypes.c_void_p(block))
    return size
