"""One exception for every refusal of the store, with a code scripts can test."""

from __future__ import annotations


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
