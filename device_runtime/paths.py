"""Where the daemon keeps its socket and state, for a system or a per-user daemon."""

from __future__ import annotations

import os
import stat
from typing import AbstractSet, Any, Mapping, Optional

SYSTEM_SOCKET = "/run/edge-runtime/edge-runtime.sock"
SYSTEM_ROOT = "/var/lib/edge-runtime"
SOCKET_NAME = "edge-runtime.sock"
SYSTEM_USER = "edge-runtime"  # the system daemon's account (installers/device)


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


class UnsafePath(Exception):
    """A runtime directory or socket that someone else could control; the message says what
    is wrong and what to do."""


def _describe_mode(mode: int) -> str:
    return "%04o" % stat.S_IMODE(mode)


def check_dir(path: str, owners: AbstractSet[int]) -> None:
    """Refuse ``path`` unless it is a real directory owned by one of ``owners`` that no one else
    can write, and every directory above it is owned by one of them or root and writable by no
    one else (or sticky, as /tmp is): otherwise another user could swap its socket or lock."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise UnsafePath("%s cannot be checked: %s" % (path, exc.strerror)) from None
    advice = "remove it (or have its owner remove it), or set XDG_RUNTIME_DIR to a private directory"
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise UnsafePath("%s is %s, not a directory: %s" % (
            path, "a symbolic link" if stat.S_ISLNK(st.st_mode) else "a file", advice))
    if st.st_uid not in owners:
        raise UnsafePath("%s belongs to uid %d, not to this user (uid %s): %s" % (
            path, st.st_uid, "/".join(str(o) for o in sorted(owners)), advice))
    if st.st_mode & 0o022:
        raise UnsafePath("%s is writable by others (mode %s): chmod go-w %s, or %s" % (
            path, _describe_mode(st.st_mode), path, advice))
    parent = os.path.dirname(os.path.realpath(path))
    while True:
        st = os.stat(parent)
        sticky = bool(st.st_mode & stat.S_ISVTX)
        if st.st_uid not in owners and st.st_uid != 0:
            raise UnsafePath("%s lies in %s, which belongs to uid %d: %s" % (path, parent, st.st_uid, advice))
        if st.st_mode & 0o022 and not sticky:
            raise UnsafePath("%s lies in %s, which others can write (mode %s): %s" % (
                path, parent, _describe_mode(st.st_mode), advice))
        if parent == os.path.dirname(parent):
            return
        parent = os.path.dirname(parent)


def private_dir(path: str, uid: int) -> str:
    """Create ``path`` with mode 0700 when missing (parents too), then :func:`check_dir` it for
    ``uid``; returns ``path``."""
    try:
        os.makedirs(path, mode=0o700)
    except FileExistsError:
        pass
    check_dir(path, {uid})
    return path


def open_nofollow(path: str, flags: int, mode: int = 0o600) -> int:
    """``os.open`` that refuses a symbolic link at ``path`` (a planted one would redirect the write)."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError:
        if os.path.islink(path):
            raise UnsafePath("%s is a symbolic link (someone planted it): remove it" % path) from None
        raise


def check_socket(path: str, owners: AbstractSet[int]) -> None:
    """Refuse a daemon socket that is not a socket or belongs to someone untrusted."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return  # nothing listens: the caller starts a daemon or says so
    if not stat.S_ISSOCK(st.st_mode):
        raise UnsafePath("%s is not a socket: remove it" % path)
    if st.st_uid not in owners:
        raise UnsafePath("the socket %s belongs to uid %d, not to this user or the runtime's account: another "
                         "user may be impersonating the runtime; remove it" % (path, st.st_uid))
    check_dir(os.path.dirname(path) or ".", owners)


def peer_uid(sock: Any) -> int:
    """The uid on the other end of a connected unix socket (SO_PEERCRED); -1 when unreadable."""
    import socket
    import struct

    try:  # asyncio hands out a TransportSocket wrapper: duck-typed
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return int(struct.unpack("3i", creds)[1])
    except (OSError, AttributeError, struct.error):
        return -1


def trusted_owners(uid: int) -> AbstractSet[int]:
    """Who may own the daemon's socket for ``uid``: that user, root, and the system daemon's account."""
    import pwd

    owners = {uid, 0}
    try:
        owners.add(pwd.getpwnam(SYSTEM_USER).pw_uid)
    except KeyError:
        pass
    return owners
