"""Replace a small file atomically and durably: readers see the old file or the new one, never a part.

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
import uuid
from typing import IO, Any, Iterator, Optional, Union

TMP_PREFIX = ".tmp-"
PathLike = Union[str, "os.PathLike[str]"]


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
