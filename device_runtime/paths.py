"""Where the daemon keeps its socket and state, for a system or a per-user daemon."""

from __future__ import annotations

import os
from typing import Mapping, Optional

SYSTEM_SOCKET = "/run/edge-runtime/edge-runtime.sock"
SYSTEM_ROOT = "/var/lib/edge-runtime"
SOCKET_NAME = "edge-runtime.sock"


def user_runtime_dir(environ: Mapping[str, str], uid: int) -> str:
    base = environ.get("XDG_RUNTIME_DIR")
    if base and os.path.isdir(base):
        return os.path.join(base, "edge-runtime")
    return os.path.join("/tmp", "edge-runtime-%d" % uid)


def user_socket(environ: Mapping[str, str], uid: int) -> str:
    return os.path.join(user_runtime_dir(environ, uid), SOCKET_NAME)


def user_root(environ: Mapping[str, str]) -> str:
    base = environ.get("XDG_DATA_HOME") or os.path.join(environ.get("HOME", "/tmp"), ".local", "share")
    return os.path.join(base, "edge-runtime")


def default_socket(environ: Mapping[str, str], uid: int, system_socket: str = SYSTEM_SOCKET) -> str:
    """The system daemon's socket when one is installed, else this user's."""
    if os.path.exists(system_socket):
        return system_socket
    return user_socket(environ, uid)


def default_root(socket_path: str, environ: Mapping[str, str], system_socket: str = SYSTEM_SOCKET) -> str:
    return SYSTEM_ROOT if socket_path == system_socket else user_root(environ)


def lock_path(socket_path: str) -> str:
    return socket_path + ".lock"


def read_pid(socket_path: str) -> Optional[int]:
    try:
        with open(lock_path(socket_path)) as handle:
            return int(handle.read().strip() or 0) or None
    except (OSError, ValueError):
        return None
