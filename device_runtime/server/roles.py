"""Who may do what on the device: operators deploy, roll back and watch; only an admin changes
what the device trusts (keys, the signature policy).

Anyone who can open the daemon's socket (its group, for the system daemon) is an operator. An
admin is root (sudo on the device), a member of the ``edge-runtime-admin`` group, or the user
the daemon itself runs as (a per-user daemon belongs to its user).
"""

from __future__ import annotations

import grp
import os
import pwd
import socket
import struct
from typing import Any, FrozenSet, Optional, Sequence

from device_runtime import protocol

ADMIN_GROUP = "edge-runtime-admin"
# Methods that change what the device accepts (a trusted key, the signature policy): declared admin=True.
ADMIN_METHODS: FrozenSet[str] = protocol.ADMIN_METHODS
SO_PEERGROUPS = getattr(socket, "SO_PEERGROUPS", 59)  # Linux 4.13+; Python names it from 3.11 only
MAX_GROUPS = 256


def admin_gid() -> Optional[int]:
    try:
        return grp.getgrnam(ADMIN_GROUP).gr_gid
    except KeyError:
        return None


def peer_groups(sock: Any, uid: int) -> Sequence[int]:
    """The peer's groups: from the kernel (SO_PEERGROUPS), else from the group database."""
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, SO_PEERGROUPS, 4 * MAX_GROUPS)
        return list(struct.unpack("%di" % (len(raw) // 4), raw[: len(raw) // 4 * 4]))
    except (OSError, AttributeError, struct.error):
        pass
    try:
        entry = pwd.getpwuid(uid)
        return os.getgrouplist(entry.pw_name, entry.pw_gid)
    except (KeyError, OSError):
        return []


def is_admin(uid: int, groups: Sequence[int], daemon_uid: int, admin_group: Optional[int]) -> bool:
    if uid < 0:
        return False
    return uid in (0, daemon_uid) or (admin_group is not None and admin_group in groups)


def refusal(method: str, actor: str) -> str:
    what = "trusting a key" if method == "store.keys.trust" else "changing the signature policy"
    return ("%s needs the admin role on the device: %s is an operator (deploy, roll back, watch). An admin is "
            "root (sudo) or a member of the %s group: sudo usermod -aG %s %s" % (
                what, actor, ADMIN_GROUP, ADMIN_GROUP, actor))
