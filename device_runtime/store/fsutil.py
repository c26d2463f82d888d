"""Durable file operations: every file fsync'd before its rename, the directory after.

A failed fsync raises (it is never retried: after a failed fsync the kernel may have dropped
the dirty pages, so a retry could report success for data that is gone).
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from typing import Callable, Optional

from device_runtime.store.errors import Code, StoreError

TMP_PREFIX = ".tmp-"


def _fsync(path: str, flags: int) -> None:
    fd = os.open(path, os.O_RDONLY | flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str) -> None:
    _fsync(path, os.O_DIRECTORY)


def fsync_file(path: str) -> None:
    """fsync a file that is not open here (never through a symlink)."""
    _fsync(path, os.O_NOFOLLOW)


def make_dirs(path: str) -> None:
    """Create ``path`` and its missing parents, fsyncing each parent that gained an entry."""
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path.rstrip("/"))
    if parent and parent != path:
        make_dirs(parent)
    try:
        os.mkdir(path, 0o755)
    except FileExistsError:
        return
    fsync_dir(parent or ".")


def _write_all_and_sync(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` (os.write may take fewer), then fsync."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.fsync(fd)


def write_atomic(path: str, data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data``: temp file, fsync, rename, fsync of the directory."""
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, "%s%s-%s" % (TMP_PREFIX, os.path.basename(path), uuid.uuid4().hex[:8]))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        _write_all_and_sync(fd, data)
    except BaseException:
        os.close(fd)
        _unlink_quietly(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
    fsync_dir(directory)


def append_durable(path: str, data: bytes) -> None:
    """Append ``data`` to ``path`` (created if missing) and fsync it before returning: all of it
    or nothing. A write cut short (a full disk) is truncated back, so the next append cannot
    glue its line onto half of this one."""
    existed = os.path.exists(path)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        size = os.fstat(fd).st_size
        try:
            _write_all_and_sync(fd, data)
        except BaseException:
            _truncate_quietly(fd, size)
            raise
    finally:
        os.close(fd)
    if not existed:
        fsync_dir(os.path.dirname(path) or ".")


def swap_symlink(link: str, target: str, before_rename: Optional[Callable[[], None]] = None) -> None:
    """Point ``link`` at ``target`` atomically: a new symlink renamed over the old one."""
    directory = os.path.dirname(link)
    tmp = os.path.join(directory, ".%s.swap-%s" % (os.path.basename(link), uuid.uuid4().hex[:8]))
    os.symlink(target, tmp)
    try:
        if before_rename is not None:
            before_rename()
        os.replace(tmp, link)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    fsync_dir(directory)


def remove_link(link: str) -> None:
    try:
        os.unlink(link)
    except FileNotFoundError:
        return
    fsync_dir(os.path.dirname(link))


def remove_tree(path: str) -> None:
    """Remove a directory by first renaming it aside (atomic), then deleting the renamed copy."""
    if not os.path.lexists(path):
        return
    parent = os.path.dirname(path)
    trash = os.path.join(parent, ".trash-%s-%s" % (os.path.basename(path), uuid.uuid4().hex[:8]))
    os.rename(path, trash)
    fsync_dir(parent)
    shutil.rmtree(trash)


def free_bytes(path: str) -> int:
    """Bytes available to this user on the file system holding ``path``."""
    probe = path
    while not os.path.exists(probe):
        probe = os.path.dirname(probe) or "/"
    st = os.statvfs(probe)
    return st.f_bavail * st.f_frsize


def total_bytes(path: str) -> int:
    """Size of the file system holding ``path`` (what an unprivileged user may fill)."""
    probe = path
    while not os.path.exists(probe):
        probe = os.path.dirname(probe) or "/"
    st = os.statvfs(probe)
    return (st.f_blocks - st.f_bfree + st.f_bavail) * st.f_frsize


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


def _truncate_quietly(fd: int, size: int) -> None:
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError:
        pass  # the start-up repair cuts what is left (store/history.repair_torn_lines)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
