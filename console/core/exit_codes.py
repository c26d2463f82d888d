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
    JOB_FAILED = 6  # the job failed, was interrupted, or the device refused to start it
    JOB_CANCELLED = 7
    DETACHED = 8  # Ctrl-C left the job running on the device
    CHECK_FAILED = 9  # the job ran and the model failed it (validate not ok, accuracy not passed)
