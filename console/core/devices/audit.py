"""The device's audit log of operator actions (deploys, rollbacks, settings), read from the console.

Who acted is what the device recorded from the connection's OS user; the console only reads
and formats. Shared by ``edgectl audit`` and the GUI's audit view.
"""

from __future__ import annotations

import time

from console.core.devices.client import DeviceError
from console.core.devices.session import DeviceSession
from device_runtime.protocol import AUDIT_LIST, AuditEntry, AuditQuery, ErrorCode

DEFAULT_LIMIT = 200
MAX_LIMIT = 2000  # the device keeps this many in memory
COLUMNS = ("Time", "Who", "Action", "Detail", "Result")


class AuditUnavailable(DeviceError):
    """The device's runtime keeps no audit log (an older runtime)."""


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError("the limit must be 1 to %d entries (got %d)" % (MAX_LIMIT, limit))


def list_audit(session: DeviceSession, limit: int = DEFAULT_LIMIT) -> list[AuditEntry]:
    """The newest ``limit`` entries, newest first."""
    check_limit(limit)
    try:
        reply = session.call(AUDIT_LIST, AuditQuery(limit))
    except DeviceError as exc:
        if exc.code == ErrorCode.UNKNOWN_METHOD:
            raise AuditUnavailable("%s's runtime keeps no audit log (%s). Update edge-runtime on the device."
                                   % (session.entry.display_name, str(exc).rstrip(".")), exc.code) from None
        raise
    return sorted(reply.entries, key=lambda e: e.t, reverse=True)


def is_ok(entry: AuditEntry) -> bool:
    return entry.result == "ok"


def format_time(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def row(entry: AuditEntry) -> tuple[str, str, str, str, str]:
    """The cells of one entry, in :data:`COLUMNS` order; the result reads "ok" or "failed: why"."""
    result = "ok" if is_ok(entry) else "failed: %s" % entry.result
    return format_time(entry.t), entry.actor, entry.action, entry.detail, result


def audit_line(entry: AuditEntry) -> str:
    """``2026-05-09 14:03:07  alice  rollback  store.rollback {...}  ok``."""
    when, who, action, detail, result = row(entry)
    return "%s  %-12s  %-10s  %s  %s" % (when, who, action, detail, result)
