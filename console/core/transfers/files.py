"""Send a file from this computer to a device for a job, and get its path there.

On the built-in local device the device's files are the user's files: nothing moves. On an SSH
device the file goes into the runtime's uploads area (``files.*`` methods): straight into the
partial file over SFTP when possible, in base64 chunks otherwise; the device hashes it before it
is used, and a file it already holds is not sent again.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from console.core.devices.client import DeviceError
from console.transport.base import TransportError
from console.transport.sftp_upload import file_sha256
from device_runtime.protocol import (
    FILES_BEGIN,
    FILES_CHUNK,
    FILES_FINISH,
    STORE_UPLOAD_CHUNK,
    ErrorCode,
    Method,
    StoreActionRef,
    StoreUploadBegin,
    StoreUploadChunk,
    StoreUploadState,
)

if TYPE_CHECKING:
    from console.core.devices.session import DeviceSession

Progress = Callable[[int, int], None]


def stage_file(session: DeviceSession, local: Path, progress: Progress | None = None) -> str:
    """The device path of ``local`` once the device holds a verified copy."""
    size = local.stat().st_size
    digest = file_sha256(local)
    state = session.call(FILES_BEGIN, StoreUploadBegin(digest, size, local.name), timeout=60)
    if state.path:
        return state.path
    offset = state.offset
    if state.part and offset < size and send_over_sftp(session, local, state.part, offset, size, progress):
        resumed = session.call(FILES_BEGIN, StoreUploadBegin(digest, size, local.name), timeout=60)
        offset = resumed.offset
    send_chunks(session, FILES_CHUNK, local, digest, offset, size, progress)
    done = session.call(FILES_FINISH, StoreActionRef(digest), timeout=300)
    if not done.path:
        raise DeviceError("%s took %s but did not say where it keeps it; update edge-runtime on the device"
                          % (session.name, local.name), ErrorCode.BAD_FIELD)
    return done.path


def send_chunks(session: DeviceSession, method: Method[StoreUploadChunk, StoreUploadState], local: Path,
                upload_id: str, offset: int, size: int, progress: Progress | None) -> int:
    """Send ``local[offset:size]`` in base64 protocol chunks (``files.chunk`` or
    ``store.upload.chunk``), each at the offset the device last said it holds; returns where the
    device stands at the end."""
    with local.open("rb") as handle:
        handle.seek(offset)
        while offset < size:
            chunk = handle.read(STORE_UPLOAD_CHUNK)
            encoded = base64.b64encode(chunk).decode("ascii")
            reply = session.call(method, StoreUploadChunk(upload_id, offset, encoded), timeout=120)
            offset = reply.offset
            if progress is not None:
                progress(offset, size)
    return offset


def send_over_sftp(session: DeviceSession, local: Path, part: str, offset: int, size: int,
                   progress: Progress | None) -> bool:
    """Append ``local[offset:]`` to a partial file the device created, over the SSH login's SFTP
    (no base64 frames, no request per chunk). True when it was tried (an SSH device), whether or
    not it got everything across: the caller then asks the device how much it holds and sends
    any rest in chunks. The device hashes the whole file before anything uses it."""
    return sftp_send(session, local, part, offset, size, progress) is not None


def sftp_send(session: DeviceSession, local: Path, part: str, offset: int, size: int,
              progress: Progress | None) -> bool | None:
    """:func:`send_over_sftp` saying how it went: None when this is no SSH device (nothing was
    tried), True when every byte went across (finish may follow at once), False when it
    stopped part way (ask the device how much it holds)."""
    from console.transport.sftp_upload import send_from

    login = session.transport.ssh_login()
    if login is None:
        return None
    try:
        send_from(login.connection(), local, part, offset, size,
                  (lambda p: progress(p.sent, p.total)) if progress is not None else None)
    except (OSError, TransportError):
        return False  # the chunks carry on from what the device holds
    return True
