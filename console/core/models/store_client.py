"""The device's model store seen from the console: upload, deploy, rollback, and waiting for them.

Long store actions answer at once with an action id and report on the ``store`` event topic;
:meth:`StoreClient.run` waits for that action's final event (and asks for it directly should
an event be missed). Used by edgectl and the GUI alike.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from console.core.devices.client import DeviceError
from console.core.devices.session import DeviceSession, Subscription
from console.core.models.packages import known_sha256
from console.core.transfers.upload_stream import ByteStream, FileStream, upload
from device_runtime.package_format.semver import SemVer
from device_runtime.protocol import (
    STORE_ACTION,
    STORE_ACTION_RUNNING,
    STORE_REMOVE,
    STORE_ROLLBACK,
    TOPIC_STORE,
    Event,
    Method,
    ProtocolError,
    Record,
    StoreAction,
    StoreActionRef,
    StoreRemove,
    StoreRollback,
    StoreVersions,
)

P = TypeVar("P", bound=Record)

ActionProgress = Callable[[StoreAction], None]
UploadProgress = Callable[[int, int], None]


class StoreClient:
    def __init__(self, session: DeviceSession, who: str = "") -> None:
        self.session = session
        self.who = who
        self._events: queue.Queue[StoreAction] = queue.Queue()
        self._follow: Subscription | None = None

    def _on_event(self, event: Event) -> None:
        try:
            self._events.put(StoreAction.from_wire(event.data))
        except ProtocolError:
            return

    def _subscribe(self) -> None:
        if self._follow is None:
            self._follow = self.session.follow([TOPIC_STORE], self._on_event, subscribe=True)

    def close(self) -> None:
        """Stop following store actions (a :meth:`run` under way falls back to asking the device)."""
        follow, self._follow = self._follow, None
        if follow is not None:
            follow.close()

    def upload(self, path: Path, progress: UploadProgress | None = None, started: UploadProgress | None = None) -> str:
        """Send a package to the device's incoming/ (resuming a partial one); returns its device path.
        ``started`` hears the offset the device resumes from, before the first chunk. A package
        this process wrote goes by the sha256 it was written with; any other is hashed as it is
        sent (or first, for a device older than protocol 3), under a name a later upload of the
        same unchanged file finds again (it resumes what arrived)."""
        stream = FileStream(path)
        return self.upload_stream(stream, progress, started, known_sha256(path), stream.upload_name())

    def upload_stream(self, stream: ByteStream, progress: UploadProgress | None = None,
                      started: UploadProgress | None = None, sha256: str | None = None,
                      name: str | None = None) -> str:
        """:meth:`upload` of bytes made as they are sent (a package being built, say). Without a
        ``name`` the upload cannot be resumed by anyone else, and a failed one is removed."""
        size = stream.size
        path, _digest = upload(self.session, stream, True,
                               (lambda sent: progress(sent, size)) if progress is not None else None,
                               (lambda offset: started(offset, size)) if started is not None else None,
                               sha256, name)
        return path

    def run(self, method: Method[P, StoreAction], params: P, progress: ActionProgress | None = None,
            timeout: float = 3600.0) -> StoreAction:
        """Start a store action and wait for its end; raises DeviceError if it cannot start."""
        self._subscribe()
        started = self.session.call(method, params)
        deadline = self.session.clock() + timeout
        while True:
            remaining = deadline - self.session.clock()
            if remaining <= 0:
                raise DeviceError("the device's %s did not finish within %.0f s" % (started.kind, timeout), "timeout")
            try:
                action = self._events.get(timeout=min(remaining, 2.0))
            except queue.Empty:
                action = self.session.call(STORE_ACTION, StoreActionRef(started.id))
            if action.id != started.id:
                continue
            if progress is not None:
                progress(action)
            if action.state != STORE_ACTION_RUNNING:
                return action

    def deploy(self, package: Path | ByteStream, progress: ActionProgress | None = None,
               upload_progress: UploadProgress | None = None, activate: bool = True, allow_downgrade: bool = False,
               force: bool = False, why: str = "", wait_s: float | None = None) -> StoreAction:
        """Upload a package (a file, or a stream made as it is sent) and import it: a
        :class:`~console.core.models.deploy.Deploy` of it, heard through two callbacks."""
        from console.core.models.deploy import Deploy, DeployEvent, Phase  # built on this client

        def tell(event: DeployEvent) -> None:
            if event.phase is Phase.SENT and upload_progress is not None:
                upload_progress(event.done, event.total)
            elif event.action is not None and progress is not None:
                progress(event.action)

        return Deploy(self, package, None, None, tell).run(activate, allow_downgrade, force, why, wait_s)

    def rollback(self, name: str, to: str | None = None, progress: ActionProgress | None = None,
                 force: bool = False, why: str = "", wait_s: float | None = None) -> StoreAction:
        return self.run(STORE_ROLLBACK, StoreRollback(name, to, self.who, why, force, wait_s), progress)

    def remove(self, name: str, version: str | None = None, confirm_active: str | None = None,
               progress: ActionProgress | None = None, why: str = "") -> StoreAction:
        """Remove a stored version (or the whole model); the active one only with ``confirm_active`` naming it."""
        return self.run(STORE_REMOVE, StoreRemove(name, version, confirm_active, self.who, why), progress)



KEPT_STATUS = ("active", "previous", "trial", "pinned")


def prune_candidates(versions: StoreVersions, keep: int) -> list[str]:
    """The versions ``prune --keep N`` removes: all but the newest ``keep``, never the active, previous,
    a trial's or a pinned one."""
    newest_first = sorted(versions.versions, key=lambda v: SemVer(v.version), reverse=True)
    return [v.version for v in newest_first[max(0, keep):] if not set(v.status) & set(KEPT_STATUS)]
