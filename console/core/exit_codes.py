"""Process exit statuses shared by edge-console and edgectl, so scripts can rely on them."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    UNREACHABLE = 3
    INCOMPATIBLE = 4
    UNKNOWN_DEVICE = 5
