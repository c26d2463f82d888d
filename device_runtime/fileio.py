"""Durable file operations, the one place both sides get them: replace a file atomically (readers
see the old file or the new one, never a part), append all or nothing, swap a symlink, make and
remove folders, and ask a file system for its room.

The bytes go to a temporary file in the same folder (so the rename stays on one file system),
are written in full and fsync'd, the temporary file is renamed over the target, and the folder
is fsync'd so the rename itself survives a power cut. On any failure the temporary file is
removed and the target is untouched. A failed fsync raises (it is never retried: after a failed
fsync the kernel may have dropped the dirty pages, so a retry could report success for data
that is gone).

Used by the daemon's settings files, caches and written models, and by the console for its own
files (settings, known hosts, exports, reports): this module imports nothing but the standard
library, so both sides may use it.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import threading
import uuid
from typing import IO, Any, Callable, Iterator, Optional, Union

TMP_PREFIX = ".tmp-"
PathLike = Union[str, "os.PathLike[str]"]


WRITEBACK_SPAN = 8 << 20  # how many new bytes of a big file are handed to start_writeback at a time
_SYNC_FILE_RANGE_WRITE = 2  # <linux/fs.h>: start writing the range's dirty pages, wait for none
_sync_file_range: Optional[Callable[[int, int, int, int], int]] = None
_sync_file_range_looked = False


def _find_sync_file_range() -> Optional[Callable[[int, int, int, int], int]]:
    global _sync_file_range, _sync_file_range_looked
    if not _sync_file_range_looked:
        _sync_file_range_looked = True
        try:
            import ctypes

            call = ctypes.CDLL(None, use_errno=True).sync_file_range
            call.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
            call.restype = ctypes.c_int
            _sync_file_range = call
        except (ImportError, OSError, AttributeError):  # not Linux, or no ctypes: fsync alone does it
            _sync_file_range = None
    return _sync_file_range


def start_writeback(fd: int, offset: int, length: int) -> bool:
    """Have the kernel start writing ``length`` bytes of ``fd`` from ``offset`` to disk now, and
    return at once (Linux's sync_file_range with SYNC_FILE_RANGE_WRITE; any open file will do).
    A big file written this way as it arrives is mostly on disk when it is fsync'd, so the fsync
    waits for the last part only, not for the disk to take the whole file after the transfer.
    It proves nothing: durability still comes from fsync alone. False where the call is missing
    or refused (a pipe, another system)."""
    call = _find_sync_file_range()
    if call is None or length <= 0:
        return False
    return call(fd, offset, length, _SYNC_FILE_RANGE_WRITE) == 0


class BlockWorker:
    """Takes blocks on a thread of its own: the base of :class:`BackgroundWriter` and of
    ``package_format.hashing.BackgroundSha256``. os.write and hashlib let go of the interpreter
    on a big block, so whoever hands the blocks over keeps reading and unpacking meanwhile.

    The thread starts at the first block of :data:`SMALL` bytes or more; smaller blocks before it
    are taken at once, on the caller's thread (a hand-over costs more than they do). At most
    :data:`QUEUE_BLOCKS` blocks wait. Blocks must not change once handed over (``bytes``, or a view
    of bytes). The first OSError of :meth:`_take` is raised by the next :meth:`put` or by
    :meth:`finish`; blocks after it are dropped."""

    QUEUE_BLOCKS = 16
    SMALL = 1 << 16

    def __init__(self, name: str) -> None:
        self._name = name
        self._queue: "queue.Queue[Optional[Union[bytes, memoryview]]]" = queue.Queue(self.QUEUE_BLOCKS)  # noqa: UP037
        self._error: Optional[OSError] = None
        self._thread: Optional[threading.Thread] = None
        self._closed = False

    def _take(self, block: Union[bytes, memoryview]) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while True:
            block = self._queue.get()
            if block is None:
                return
            if self._error is None:
                try:
                    self._take(block)
                except OSError as exc:
                    self._error = exc

    def put(self, block: Union[bytes, memoryview]) -> None:
        if self._error is not None:
            raise self._error
        if self._closed:
            raise ValueError("the %s is closed: it takes no more blocks" % self._name)
        if self._thread is None:
            if len(block) < self.SMALL:
                self._take(block)
                return
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
        self._queue.put(block)

    def stop(self) -> None:
        """End the thread once the blocks handed over are taken (or dropped after a failure)."""
        self._closed = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def finish(self) -> None:
        """:meth:`stop`, then raise the first failure."""
        self.stop()
        if self._error is not None:
            raise self._error


class BackgroundWriter(BlockWorker):
    """Writes blocks to an open file on a thread of its own, handing each new WRITEBACK_SPAN to the
    disk as it goes (:func:`start_writeback`, with ``writeback``).

    A reader that unpacks and hashes a big file keeps doing that while the last megabyte is copied
    into the page cache: the copy (a third of a 300 MB unpack) no longer comes on top of the rest.
    A full disk is raised by the next :meth:`write` or by :meth:`close`. The file descriptor stays
    the caller's."""

    def __init__(self, fd: int, writeback: bool = True) -> None:
        super().__init__("writer")
        self._fd = fd
        self._writeback = writeback
        self._on_disk = 0
        self.written = 0

    def _take(self, block: Union[bytes, memoryview]) -> None:
        view = memoryview(block)
        while view:
            view = view[os.write(self._fd, view):]
        self.written += len(block)
        if self._writeback and self.written - self._on_disk >= WRITEBACK_SPAN:
            start_writeback(self._fd, self._on_disk, self.written - self._on_disk)
            self._on_disk = self.written

    def write(self, block: Union[bytes, memoryview]) -> None:
        self.put(block)

    def close(self) -> None:
        """Wait until every block is written; raise the first failure."""
        self.finish()


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


@contextlib.contextmanager
def replacing(path: PathLike, mode: int = 0o666, encoding: Optional[str] = None,
              newline: Optional[str] = None) -> Iterator[IO[Any]]:
    """A file to write ``path``'s new content into (binary; text in ``encoding`` when one is
    given, with ``newline`` as ``open`` takes it). When the block ends without an exception the
    file is flushed, fsync'd, renamed over ``path`` and the folder fsync'd; otherwise it is
    removed and ``path`` is untouched. ``mode``: the new file's permission bits before the umask
    applies, as ``open`` takes them (0o600 for a private file)."""
    path = os.fspath(path)
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, "%s%s-%s" % (TMP_PREFIX, os.path.basename(path), uuid.uuid4().hex[:8]))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        handle = os.fdopen(fd, "w" if encoding else "wb", encoding=encoding, newline=newline)
    except BaseException:
        os.close(fd)
        _unlink_quietly(tmp)
        raise
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    fsync_dir(directory)


def write_atomic(path: PathLike, data: bytes, mode: int = 0o666) -> None:
    """Replace ``path`` with ``data`` as :func:`replacing` does."""
    with replacing(path, mode) as handle:
        handle.write(data)


def fsync_file(path: str) -> None:
    """fsync a file that is not open here (never through a symlink)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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


def _truncate_quietly(fd: int, size: int) -> None:
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError:
        pass  # the start-up repair cuts what is left (store/history.repair_torn_lines)
