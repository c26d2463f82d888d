"""One exception for every refusal of the store, with a code scripts can test."""

from __future__ import annotations

import errno
from typing import Optional

from device_runtime.fileio import free_bytes


class Code:
    BAD_PACKAGE = "bad_package"  # truncated, not gzip/tar, links, device files, traversal, too large
    BAD_MANIFEST = "bad_manifest"
    BAD_SIGNATURE = "bad_signature"
    UNSIGNED = "unsigned"
    UNTRUSTED_KEY = "untrusted_key"
    HASH_MISMATCH = "hash_mismatch"
    VERSION_CONFLICT = "version_conflict"  # same version, other contents
    BELOW_FLOOR = "below_security_floor"
    DOWNGRADE = "downgrade_needs_intent"
    INCOMPATIBLE_ENGINE = "incompatible_engine"
    NO_SPACE = "no_space"
    NOT_FOUND = "not_found"
    CORRUPT = "corrupt"
    INHIBITED = "inhibited"
    LOAD_FAILED = "load_failed"
    HOOK_FAILED = "hook_failed"
    HEALTH_FAILED = "health_failed"
    BUSY = "busy"
    BAD_REQUEST = "bad_request"
    IO = "io_error"


class StoreError(Exception):
    """A refused or failed store operation. ``message`` says what happened and what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def io_error(what: str, exc: OSError, where: Optional[str] = None) -> StoreError:
    """A StoreError for an OSError with advice for the common causes."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        free = free_bytes(where) if where else -1
        room = " (%.1f MB free)" % (free / 1e6) if free >= 0 else ""
        return StoreError(Code.NO_SPACE, "%s: the device's disk is full%s. Free space on the device "
                                         "(remove old versions or logs) and try again." % (what, room))
    return StoreError(Code.IO, "%s: %s" % (what, exc.strerror or exc))


def as_store_error(exc: BaseException, what: str, where: Optional[str] = None) -> StoreError:
    """Any failure as a StoreError with a code, so no raw ``OSError: [Errno 28]`` reaches a user."""
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, OSError):
        return io_error(what, exc, where)
    return StoreError(Code.IO, "%s: %s: %s" % (what, type(exc).__name__, exc))
