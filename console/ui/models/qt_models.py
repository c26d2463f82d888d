"""The Qt face of a :class:`~console.core.models.tracker.StoreTracker`, shared by the Models page, the
Deploy wizard, the Rollback dialog and field mode of one device.

Queries (list, pin, health) run on the session model's worker, after any connect it has queued.
Deploys and rollbacks run on a worker of their own (:class:`~console.ui.qt_adapter.QtAdapter`'s,
retired rather than waited for on close): they last as long as an upload and a health check, and
must not hold up the session's other requests meanwhile. Results come back as signals, which Qt
queues onto the GUI thread, tagged with the caller's id.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from console.core.devices.client import DeviceError
from console.core.devices.keys import KeyError_, KeyStore
from console.core.devices.session import State
from console.core.models.deploy import Deploy, DeployCancelled, DeployEvent, PackageBuild, Phase
from console.core.models.packages import PackageError
from console.core.models.tracker import Refusal, RemovalPlan, RollbackPlan, StoreTracker, explain_error
from console.transport.base import TransportError
from console.ui.devices.qt_session import QtSession, plain_error
from console.ui.qt_adapter import QtAdapter
from device_runtime.package_format.errors import StoreError
from device_runtime.protocol import STORE_ACTION_RUNNING, STORE_KEYS_LIST, Empty, ProtocolError, StoreAction

_ERRORS = (DeviceError, TransportError, ProtocolError, OSError, PackageError, KeyError_, StoreError)


@dataclass(frozen=True)
class OnnxBuild:
    """Package an ONNX model on the way: the name and version the operator gave, a key, and the
    warm-up's input sizes (``--shape``) or real sample (``--sample``)."""

    name: str
    version: str
    key_name: str | None = None
    shapes: dict[str, list[int]] = field(default_factory=dict)
    sample: Path | None = None


class QtModels(QtAdapter):
    changed = Signal()  # the snapshot (or the health report) is new: read ``tracker``
    actionChanged = Signal(object)  # StoreAction from any console, as it goes
    stageChanged = Signal(str, str)  # tag, a step of ours before the device's action starts
    packaged = Signal(str, str)  # tag, the package built from an ONNX model (deploy it again to resume)
    uploadStarted = Signal(str, int, int)  # tag, bytes the device already held (a resumed upload), bytes in all
    uploadProgress = Signal(str, int, int)  # tag, bytes sent, bytes in all
    actionProgress = Signal(str, object)  # tag, StoreAction of the action that tag started
    finished = Signal(str, object)  # tag, the final StoreAction
    refused = Signal(str, object)  # tag, Refusal: it could not start or went wrong on the way
    # failed(str): a plain sentence about a query (QtAdapter's)
    trustedKeys = Signal(list)  # key ids the device trusts (store.keys.list)

    def __init__(self, session_model: QtSession, who: str, keys_dir: Path | None = None,
                 parent: QObject | None = None) -> None:
        # No waiting on close: an activation on the device goes on without us, and the worker's wait
        # for it ends as soon as the session closes.
        super().__init__("store-%s" % session_model.name, wait_on_close=False, parent=parent)
        self.session_model = session_model
        self.keys_dir = keys_dir
        self.tracker = StoreTracker(session_model.session, who)
        self._cancel: dict[str, threading.Event] = {}
        self._scratch_dir: Path | None = None
        self.tracker.change_listeners.append(self._on_changed)
        self.tracker.action_listeners.append(self._on_action)
        session_model.stateChanged.connect(self._on_state)
        if session_model.state is State.CONNECTED:
            self.refresh()

    @property
    def display_name(self) -> str:
        return self.session_model.display_name

    def busy(self) -> bool:
        return self.tracker.running() is not None

    # -- queries -----------------------------------------------------------------------------
    def refresh(self) -> Future[None]:
        return self._query(self.tracker.load, "Reading the models of %s" % self.display_name)

    def load_health(self) -> Future[None]:
        return self._query(self.tracker.load_health, "Reading the health of %s" % self.display_name)

    def load_trusted_keys(self) -> Future[None]:
        """Ask which signing keys the device trusts; the ids arrive as ``trustedKeys``."""
        session = self.session_model.session
        trusted = self.trustedKeys

        def job() -> None:
            reply = session.call(STORE_KEYS_LIST, Empty())
            if not self._closed:
                trusted.emit([k.key_id for k in reply.keys])

        return self._query(job, "Reading the keys %s trusts" % self.display_name)

    def pin(self, name: str, version: str, pinned: bool) -> Future[None]:
        verb = "Pinning" if pinned else "Unpinning"
        return self._query(lambda: self.tracker.pin(name, version, pinned), "%s %s %s" % (verb, name, version))

    # -- actions -----------------------------------------------------------------------------
    def rollback(self, plan: RollbackPlan, why: str = "", force: bool = False) -> str:
        """``force``: go past the robot's swap inhibit lock after the wait (the device records it)."""
        tag = uuid.uuid4().hex[:8]
        self._act(tag, lambda: self.tracker.rollback(plan, why, lambda a: self.actionProgress.emit(tag, a), force),
                  "%s of %s" % (plan.verb, plan.name))
        return tag

    def activate(self, name: str, version: str, why: str = "", force: bool = False) -> str:
        tag = uuid.uuid4().hex[:8]
        self._act(tag, lambda: self.tracker.activate(name, version, why, lambda a: self.actionProgress.emit(tag, a),
                                                     force), "Activating %s %s" % (name, version))
        return tag

    def remove(self, plan: RemovalPlan, why: str = "") -> str:
        tag = uuid.uuid4().hex[:8]
        what = "Removing %s%s" % (plan.name, " %s" % plan.version if plan.version else "")
        self._act(tag, lambda: self.tracker.remove(plan, why, lambda a: self.actionProgress.emit(tag, a)), what)
        return tag

    def deploy(self, source: Path, build: OnnxBuild | None = None, why: str = "") -> str:
        """Deploy a package, or an ONNX model packaged on the way; returns the tag of its signals."""
        tag = uuid.uuid4().hex[:8]
        cancel = self._cancel[tag] = threading.Event()

        def tell(event: DeployEvent) -> None:
            if event.phase in (Phase.PACKAGING, Phase.UPLOADING):
                self.stageChanged.emit(tag, event.words)
            elif event.phase is Phase.PACKAGED and event.package is not None:
                self.packaged.emit(tag, str(event.package))
            elif event.phase is Phase.RESUMED:
                self.uploadStarted.emit(tag, event.done, event.total)
            elif event.phase is Phase.SENT:
                self.uploadProgress.emit(tag, event.done, event.total)
            elif event.action is not None:
                self.actionProgress.emit(tag, event.action)

        def job() -> StoreAction:
            package_build, folder = None, None
            if build is not None:
                key = KeyStore(self.keys_dir).private_key(build.key_name) if (
                    build.key_name and self.keys_dir is not None) else None
                package_build = PackageBuild(build.name, build.version, self.tracker.client.who, key,
                                             shapes=build.shapes, sample=build.sample)
                folder = self._scratch() / tag
                folder.mkdir()
            action = Deploy(self.tracker.client, source, package_build, folder, tell, cancel=cancel).run(
                why=why or "deploy")
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)  # the device has it; kept only to resume
            return action

        self._act(tag, job, "Deploying %s" % source.name)
        return tag

    def cancel_upload(self, tag: str) -> None:
        event = self._cancel.get(tag)
        if event is not None:
            event.set()

    # close(): stop uploads, retire the worker (this model stays referenced from the GUI thread until
    # it ends, so it is never destroyed there), remove the packages built here; safe to call twice
    def _closing(self) -> None:
        for event in self._cancel.values():
            event.set()

    def _closed_down(self) -> None:
        self.tracker.close()
        if self._scratch_dir is not None:
            shutil.rmtree(self._scratch_dir, ignore_errors=True)

    def _scratch(self) -> Path:
        """Packages built from ONNX models live here until the device has them (or the console closes)."""
        if self._scratch_dir is None:
            self._scratch_dir = Path(tempfile.mkdtemp(prefix="eoc-packages-"))
        return self._scratch_dir

    # -- workers -----------------------------------------------------------------------------
    failures = _ERRORS

    def _failure_text(self, what: str, exc: BaseException) -> str:
        if isinstance(exc, TransportError):
            return plain_error(self.display_name, exc)
        return "%s failed: %s." % (what, str(getattr(exc, "message", exc)).rstrip("."))

    def _query(self, job: Callable[[], Any], what: str) -> Future[None]:
        """On the session model's worker, after any connect it has queued."""
        return self.session_model.run_blocking(self._guard(job, what))

    def _act(self, tag: str, job: Callable[[], StoreAction], what: str) -> None:
        def guarded() -> None:
            try:
                action = job()
            except DeployCancelled as exc:
                if self._closed:
                    return
                self.refused.emit(tag, Refusal("The upload was stopped; nothing was deployed.",
                                               "Resume the upload to go on from where it stopped.", str(exc)))
            except _ERRORS as exc:
                if not self._closed:
                    self.refused.emit(tag, explain_error(exc, what, self.display_name))
            else:
                if not self._closed:
                    self.finished.emit(tag, action)
            finally:
                self._cancel.pop(tag, None)

        self._submit(guarded)

    # -- core -> signals ---------------------------------------------------------------------
    def _on_changed(self) -> None:
        if not self._closed:
            self.changed.emit()

    def _on_action(self, action: StoreAction) -> None:
        if self._closed:
            return
        self.actionChanged.emit(action)
        if action.state != STORE_ACTION_RUNNING:
            self.refresh()  # queued on the worker: the reader thread never waits for a reply

    def _on_state(self, state: str, _message: str) -> None:
        if state == State.CONNECTED.value:
            self.refresh()
