"""The device's model store seen from the console: upload, deploy, rollback, and waiting for them.

Long store actions answer at once with an action id and report on the ``store`` event topic;
:meth:`StoreClient.run` waits for that action's final event (and asks for it directly should
an event be missed). Used by edgectl and the GUI alike.
"""

from __future__ import annotations

import errno
import os
import queue
from collections.abc import Callable
from pathlib import Path

from console.core.client import DeviceError
from console.core.files import send_chunks, sftp_send
from console.core.packages import known_sha256
from console.core.session import DeviceSession
from console.transport.local import LocalTransport
from console.transport.sftp_upload import file_sha256
from device_runtime.protocol import (
    STORE_ACTION_RUNNING,
    STORE_UPLOAD_CHUNK,
    TOPIC_STORE,
    Event,
    ProtocolError,
    Record,
    StoreAction,
    StoreActionRef,
    StoreImport,
    StoreRemove,
    StoreRollback,
    StoreUploadBegin,
    StoreUploadState,
    StoreVersions,
)
from device_runtime.store.semver import SemVer

ActionProgress = Callable[[StoreAction], None]
UploadProgress = Callable[[int, int], None]


class StoreClient:
    def __init__(self, session: DeviceSession, who: str = "") -> None:
        self.session = session
        self.who = who
        self._events: queue.Queue[StoreAction] = queue.Queue()
        self._subscribed = False

    def _on_event(self, event: Event) -> None:
        try:
            self._events.put(StoreAction.from_wire(event.data))
        except ProtocolError:
            return

    def _subscribe(self) -> None:
        if not self._subscribed:
            self.session.add_event_listener(TOPIC_STORE, self._on_event)
            self.session.subscribe_events([TOPIC_STORE])
            self._subscribed = True

    def upload(self, path: Path, progress: UploadProgress | None = None, started: UploadProgress | None = None) -> str:
        """Send a package to the device's incoming/ (resuming a partial one); returns its device path.
        ``started`` hears the offset the device resumes from, before the first chunk."""
        size = path.stat().st_size
        state = self.session.request("store.upload.begin", StoreUploadBegin(known_sha256(path) or file_sha256(path),
                                                                         size, path.name))
        assert isinstance(state, StoreUploadState)
        offset = state.offset
        if started is not None:
            started(offset, size)
        sent = None
        if state.part and offset < size:
            sent = local_append(self.session, path, state.part, offset, size, progress)
            if sent is None:
                sent = sftp_send(self.session, path, state.part, offset, size, progress)
        if sent:
            offset = size  # all of it went across: finish checks the size and the sha256
        elif sent is False:
            resumed = self.session.request("store.upload.begin", StoreUploadBegin(state.id, size, path.name))
            assert isinstance(resumed, StoreUploadState)
            offset = resumed.offset
        send_chunks(self.session, "store.upload.chunk", path, state.id, offset, size, progress)
        done = self.session.request("store.upload.finish", StoreActionRef(state.id), timeout=300)
        assert isinstance(done, StoreUploadState) and done.path
        return done.path

    def run(self, method: str, params: Record, progress: ActionProgress | None = None,
            timeout: float = 3600.0) -> StoreAction:
        """Start a store action and wait for its end; raises DeviceError if it cannot start."""
        self._subscribe()
        started = self.session.request(method, params)
        assert isinstance(started, StoreAction)
        deadline = self.session.clock() + timeout
        while True:
            remaining = deadline - self.session.clock()
            if remaining <= 0:
                raise DeviceError("the device's %s did not finish within %.0f s" % (started.kind, timeout), "timeout")
            try:
                action = self._events.get(timeout=min(remaining, 2.0))
            except queue.Empty:
                polled = self.session.request("store.action", StoreActionRef(started.id))
                assert isinstance(polled, StoreAction)
                action = polled
            if action.id != started.id:
                continue
            if progress is not None:
                progress(action)
            if action.state != STORE_ACTION_RUNNING:
                return action

    def deploy(self, package: Path, progress: ActionProgress | None = None,
               upload_progress: UploadProgress | None = None, activate: bool = True, allow_downgrade: bool = False,
               force: bool = False, why: str = "", wait_s: float | None = None) -> StoreAction:
        remote = self.upload(package, upload_progress)
        return self.run("store.import", StoreImport(remote, activate, self.who, why, allow_downgrade, force, wait_s),
                        progress)

    def rollback(self, name: str, to: str | None = None, progress: ActionProgress | None = None,
                 force: bool = False, why: str = "", wait_s: float | None = None) -> StoreAction:
        return self.run("store.rollback", StoreRollback(name, to, self.who, why, force, wait_s), progress)

    def remove(self, name: str, version: str | None = None, confirm_active: str | None = None,
               progress: ActionProgress | None = None, why: str = "") -> StoreAction:
        """Remove a stored version (or the whole model); the active one only with ``confirm_active`` naming it."""
        return self.run("store.remove", StoreRemove(name, version, confirm_active, self.who, why), progress)



def local_append(session: DeviceSession, local: Path, part: str, offset: int, size: int,
                 progress: UploadProgress | None) -> bool | None:
    """On the built-in local device, append ``local[offset:]`` to the store's partial file directly
    (same machine, same account): no base64 frames, no request per chunk. None when the device is
    not local; True when every byte went; False when it stopped (the chunks go on from what the
    device holds). The device hashes the whole file before anything uses it."""
    if not isinstance(session.transport, LocalTransport):
        return None
    try:
        with local.open("rb") as source, open(part, "r+b", buffering=0) as target:
            target.seek(offset)
            while offset < size:  # progress (and a stop) per chunk; the device unpacks as the file grows
                sent = _copy_range(source.fileno(), target.fileno(), offset, min(STORE_UPLOAD_CHUNK, size - offset))
                if not sent:
                    return False
                offset += sent
                if progress is not None:
                    progress(offset, size)
    except OSError:
        return False
    return True


def _copy_range(source: int, target: int, offset: int, count: int) -> int:
    """Copy ``count`` bytes at ``offset`` of ``source`` to ``target``'s position: in the kernel
    (sendfile, no copy through this process) where the file systems allow it."""
    try:
        return os.sendfile(target, source, offset, count)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise
    block = os.pread(source, count, offset)
    view = memoryview(block)
    while view:
        view = view[os.write(target, view):]
    return len(block)


KEPT_STATUS = ("active", "previous", "trial", "pinned")


def prune_candidates(versions: StoreVersions, keep: int) -> list[str]:
    """The versions ``prune --keep N`` removes: all but the newest ``keep``, never the active, previous,
    a trial's or a pinned one."""
    newest_first = sorted(versions.versions, key=lambda v: SemVer(v.version), reverse=True)
    return [v.version for v in newest_first[max(0, keep):] if not set(v.status) & set(KEPT_STATUS)]
