"""The daemon's model store service: ``store.*`` methods, one worker for long actions.

Queries, pins, keys, policy and upload chunks answer on the loop (they are short); an upload's
finish hashes on a thread of its own (a :class:`Deferred` reply). Imports,
activations and rollbacks are queued to one worker thread, answered at once with a
:class:`StoreAction` and pushed on ``TOPIC_STORE`` at every step; imports run in a child
process so signature checks and decompression never grow the daemon; a big upload is already
unpacked by then, as it arrived (``upload_handlers``), and its import only commits that. Recovery
and the clean-up of abandoned uploads run before the daemon serves; the re-hash scrub runs in
the background after.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import subprocess
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import asdict
from typing import Any, Callable, Dict, Optional, Tuple

from device_runtime.package_format.errors import Code, StoreError, as_store_error, io_error
from device_runtime.package_format.manifest import check_name
from device_runtime.process import python_command
from device_runtime.protocol import (
    STORE_ACTION_FAILED,
    STORE_ACTION_RUNNING,
    STORE_ACTION_SUCCEEDED,
    TOPIC_STORE,
    Capabilities,
    Empty,
    ProtocolError,
    Record,
    StoreAction,
    StoreActionRef,
    StoreActivate,
    StoreHistory,
    StoreHistoryEntry,
    StoreHistoryQuery,
    StoreImport,
    StoreKey,
    StoreKeyInfo,
    StoreKeys,
    StoreModel,
    StoreModelRef,
    StoreModels,
    StorePin,
    StorePolicy,
    StorePolicyUpdate,
    StoreRemove,
    StoreRollback,
    StoreUploadBegin,
    StoreUploadChunk,
    StoreUploadFinish,
    StoreVersion,
    StoreVersions,
)
from device_runtime.server.deferred import Deferred
from device_runtime.server.events import EventBus
from device_runtime.server.service import Handler, Service
from device_runtime.store import activation, history, recovery, removal, scrub, usage
from device_runtime.store.compat import StoreFacts
from device_runtime.store.config import optional_policy
from device_runtime.store.receiver import killed_child
from device_runtime.store.store import Store
from device_runtime.store.upload_handlers import UploadHandlers

log = logging.getLogger("edge_runtime.store")
KEEP_ACTIONS = 100


def facts_from(caps: Capabilities) -> StoreFacts:
    cc = next((g.compute_capability for g in caps.gpus if g.compute_capability), None)
    return StoreFacts(tensorrt=caps.tensorrt, compute_capability=cc, dla_cores=caps.dla_cores, l4t=caps.l4t,
                      jetpack=caps.jetpack, board=caps.board_model)


def _failure(exc: StoreError) -> ProtocolError:
    """The store's own code goes to the console (no_space, not_found, ...), which words it."""
    return ProtocolError(exc.code, exc.message)


class StoreService(Service):
    name = "store"

    def __init__(self, root: str, bus: EventBus, facts: StoreFacts, default_policy: str) -> None:
        self.store = Store(root, facts, default_policy)
        self.bus = bus
        self._stop = threading.Event()
        self.uploads = UploadHandlers(self.store, self._stop)
        self.incoming = self.uploads.incoming
        self._actions: "OrderedDict[str, StoreAction]" = OrderedDict()  # noqa: UP037 - a string so Python 3.8 never evaluates it
        self._queue: "queue.Queue[Optional[Tuple[StoreAction, Callable[[StoreAction], None]]]]" = queue.Queue()  # noqa: UP037 - a string so Python 3.8 never evaluates it
        self._worker: Optional[threading.Thread] = None
        self._scrubber: Optional[threading.Thread] = None

    def handlers(self) -> Dict[str, Handler]:
        table: Dict[str, Callable[[Any], Record]] = {
            "store.models": self._models,
            "store.versions": self._versions,
            "store.history": self._history,
            "store.import": self._import,
            "store.activate": self._activate,
            "store.rollback": self._rollback,
            "store.action": self._action,
            "store.pin": lambda p: self._pin(p, True),
            "store.unpin": lambda p: self._pin(p, False),
            "store.remove": self._remove,
            "store.keys.list": self._keys,
            "store.keys.trust": self._trust,
            "store.policy.get": self._policy,
            "store.policy.set": self._set_policy,
            "store.upload.begin": self._upload_begin,
            "store.upload.chunk": self._upload_chunk,
            "store.df": lambda _: usage.usage(self.store, self.incoming),
            "store.incoming.remove": self._incoming_remove,
        }
        handlers: Dict[str, Handler] = {method: self._guard(fn) for method, fn in table.items()}
        finish = self._guard(self._upload_finish)  # hashes up to gigabytes: off the event loop
        handlers["store.upload.finish"] = lambda params: Deferred(lambda: finish(params), "store-upload-finish")
        return handlers

    @staticmethod
    def _guard(fn: Callable[[Any], Record]) -> Callable[[Any], Record]:
        def handler(params: Record) -> Record:
            try:
                return fn(params)
            except StoreError as exc:
                raise _failure(exc) from None
            except OSError as exc:
                raise _failure(io_error("the store could not finish the request", exc)) from None
        return handler

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        for note in recovery.recover(self.store):
            log.warning("store recovery: %s", note)
        self.uploads.start()
        self._worker = threading.Thread(target=self._work, name="store-worker", daemon=True)
        self._worker.start()
        self._scrubber = threading.Thread(target=self._scrub, name="store-scrub", daemon=True)
        self._scrubber.start()

    def close(self) -> None:
        self._stop.set()
        self._queue.put(None)
        self.uploads.close()
        for thread in (self._worker, self._scrubber):
            if thread is not None:
                thread.join(timeout=5)

    def _scrub(self) -> None:
        found = scrub.scrub(self.store, self._stop, lambda n, v, why: log.error("store: %s %s is corrupt: %s",
                                                                              n, v, why))
        log.info("store scrub finished: %d corrupt version(s)", len(found))

    # -- actions ----------------------------------------------------------------------------
    def _submit(self, kind: str, name: Optional[str], version: Optional[str],
                body: Callable[[StoreAction], None]) -> StoreAction:
        action = StoreAction(uuid.uuid4().hex[:12], kind, STORE_ACTION_RUNNING, stage="queued", name=name,
                             version=version, started=time.time())
        self._actions[action.id] = action
        while len(self._actions) > KEEP_ACTIONS:
            self._actions.popitem(last=False)
        self._queue.put((action, body))
        return action

    def _publish(self, action: StoreAction) -> None:
        self.bus.publish(TOPIC_STORE, action)

    def _progress(self, action: StoreAction) -> Callable[[float, str], None]:
        def report(fraction: float, stage: str) -> None:
            action.progress = max(0.0, min(1.0, fraction))
            action.stage = stage
            self._publish(action)
        return report

    def _work(self) -> None:
        while not self._stop.is_set():
            item = self._queue.get()
            if item is None:
                return
            action, body = item
            try:
                body(action)
            except StoreError as exc:
                action.state, action.message, action.code = STORE_ACTION_FAILED, exc.message, exc.code
            except Exception as exc:  # a bug or the disk must fail the action, not the worker
                log.exception("store action %s failed", action.id)
                failure = as_store_error(exc, "the %s stopped" % action.kind, self.store.root)
                action.state, action.message, action.code = STORE_ACTION_FAILED, failure.message, failure.code
                self._heal(action.name)
            action.finished = time.time()
            if action.state == STORE_ACTION_RUNNING:
                action.state = STORE_ACTION_SUCCEEDED
            self._publish(action)

    def _heal(self, name: Optional[str]) -> None:
        """After an unexpected error mid-activation, bring the model back as a restart would."""
        if name is None:
            return
        try:
            for note in recovery.recover_model(self.store, name):
                log.warning("store: %s", note)
        except Exception:
            log.exception("store: recovering %s failed; it is recovered at the next start", name)

    def _apply(self, action: StoreAction, outcome: activation.Outcome) -> None:
        action.version = outcome.version
        action.previous = outcome.previous
        action.result = outcome.result
        action.message = outcome.message
        action.notes = [*action.notes, *outcome.notes]  # the import's notes (signer, load) come first
        action.steps_s = {**action.steps_s, **outcome.steps_s}  # the import's time first
        if outcome.result in (history.COMMITTED, activation.UNCHANGED):
            action.state = STORE_ACTION_SUCCEEDED
            action.progress = 1.0
        else:
            action.state, action.code = STORE_ACTION_FAILED, outcome.code or Code.IO

    def _run_import(self, action: StoreAction, params: StoreImport) -> Tuple[str, str]:
        report = self._progress(action)
        scale = 0.5 if params.activate else 1.0
        start = time.perf_counter()
        received = self.uploads.commit_received(params.path, params.who, params.why)
        if received is not None:
            result: Dict[str, Any] = received["result"]
            report(0.9 * scale, "unpacked and checked while it arrived")
        else:
            try:
                result = self._import_in_child(params, lambda f, stage: report(scale * f, stage))
            except StoreError as exc:
                if exc.code in usage.PERMANENT_REFUSALS and self.incoming.finished_id(params.path) is not None:
                    self.incoming.discard(params.path)  # these bytes can never be imported: free their space
                    exc.message += " (the refused upload was removed from the device)"
                raise
        name, version = str(result["name"]), str(result["version"])
        directory = self.store.version_dir(name, version)
        manifest = self.store.manifest(name, version)
        self.store.verified.mark(name, version, directory, manifest)
        action.steps_s["import"] = time.perf_counter() - start
        action.name, action.version = name, version
        action.notes.append("%s %s %s, %s" % (name, version, "was already stored" if result.get("already") else
                                              "imported", "signed by key %s" % result["signer"]
                                              if result.get("signer") else "unsigned"))
        warm = received.get("warm") if received is not None else None
        entry = manifest.file(manifest.entry)
        if isinstance(warm, dict) and warm.get("ok") and entry is not None:
            self.store.warm_ok[entry.sha256] = time.time()  # the activation's load check is done
            action.notes.append("loaded with %s in %.2f s, warm-up inference %.1f ms, as it arrived" % (
                warm.get("provider", "?"), float(warm.get("load_s", 0.0)), float(warm.get("infer_ms", 0.0))))
        self.incoming.discard(params.path)
        return name, version

    def _import_in_child(self, params: StoreImport, report: Callable[[float, str], None]) -> Dict[str, Any]:
        facts = json.dumps(asdict(self.store.facts))
        proc = subprocess.Popen(
            [*python_command(), "-m", "device_runtime.store.child", "import", "--root", self.store.root, "--package",
             params.path, "--facts", facts, "--policy", self.store.default_policy, "--who", params.who, "--why",
             params.why], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None
        final: Dict[str, Any] = {}
        for raw in proc.stdout:
            try:
                line = json.loads(raw.decode("utf-8", "replace"))
            except ValueError:
                continue
            if "progress" in line:
                report(float(line["progress"]), str(line.get("stage", "")))
            else:
                final = line
        _, err = proc.communicate()
        if proc.returncode < 0:
            raise killed_child("import", proc.returncode, self.store)
        if "error" in final:
            raise StoreError(str(final["error"].get("code", Code.IO)), str(final["error"].get("message", "")))
        result = final.get("result")
        if not isinstance(result, dict):
            raise StoreError(Code.IO, "the import process failed (status %s): %s" % (
                proc.returncode, err.decode("utf-8", "replace").strip()[-300:]))
        return result

    def _import(self, params: StoreImport) -> Record:
        if not os.path.isabs(params.path):
            raise StoreError(Code.BAD_REQUEST, "the package path must be absolute on the device")

        def body(action: StoreAction) -> None:
            name, version = self._run_import(action, params)
            if not params.activate:
                action.result = history.IMPORTED
                action.message = "%s %s is stored (not active)" % (name, version)
                return
            plan = activation.Plan(name, version, activation.DEPLOY, params.who, params.why or "deploy",
                                   params.allow_downgrade, params.force, params.wait_s)
            report = self._progress(action)
            self._apply(action, activation.activate(self.store, plan, lambda f, s: report(0.5 + 0.5 * f, s)))

        return self._submit("deploy" if params.activate else "import", None, None, body)

    def _activate(self, params: StoreActivate) -> Record:
        check_name(params.name)
        self.store.manifest(params.name, params.version)
        plan = activation.Plan(params.name, params.version, activation.ACTIVATE, params.who, params.why,
                               params.allow_downgrade, params.force, params.wait_s)
        return self._submit("activate", params.name, params.version, lambda action: self._apply(
            action, activation.activate(self.store, plan, self._progress(action))))

    def _rollback(self, params: StoreRollback) -> Record:
        check_name(params.name)
        target = params.to or self.store.state(params.name).previous
        if target is None:
            raise StoreError(Code.NOT_FOUND, "%s has no previous version to roll back to (active: %s); name one "
                                             "with --to" % (params.name, self.store.active_version(params.name)
                                                            or "none"))
        self.store.manifest(params.name, target)
        return self._submit("rollback", params.name, params.to, lambda action: self._apply(
            action, activation.rollback(self.store, params.name, params.to, params.who, params.why, params.force,
                                        params.wait_s, self._progress(action))))

    def _incoming_remove(self, params: StoreActionRef) -> Record:
        freed = self.uploads.remove(params.id)
        log.info("store: removed upload %s from incoming/ (%.1f MB)", params.id[:16], freed / 1e6)
        return usage.usage(self.store, self.incoming)

    def _remove(self, params: StoreRemove) -> Record:
        """Checked at once (a refusal answers the request), done on the worker, after any activation."""
        removal.plan_removal(self.store, params.name, params.version, params.confirm_active)

        def body(action: StoreAction) -> None:
            removed = removal.remove(self.store, params.name, params.version, params.confirm_active, params.who,
                                     params.why)
            action.result, action.progress = removal.REMOVED, 1.0
            action.message = "removed %s %s from the device" % (
                params.name, ", ".join(removed) if params.version is not None else "(the whole model: %s)" % (
                    ", ".join(removed) or "no stored version"))
        return self._submit("remove", params.name, params.version, body)

    def _action(self, params: StoreActionRef) -> Record:
        action = self._actions.get(params.id)
        if action is None:
            raise StoreError(Code.NOT_FOUND, "no store action %s (the device keeps the last %d)" % (
                params.id, KEEP_ACTIONS))
        return action

    # -- queries ----------------------------------------------------------------------------
    def active_versions(self) -> Dict[str, Optional[str]]:
        """Each stored model's active version (None when it has none): the health checks read it."""
        return {name: self.store.active_version(name) for name in self.store.model_names()}

    def _models(self, _: Empty) -> Record:
        models = []
        for name in self.store.model_names():
            state = self.store.state(name)
            onnx = os.path.join(self.store.path("active", name), "model.onnx")
            models.append(StoreModel(name, self.store.active_version(name), state.previous, state.floor,
                                     len(self.store.stored_versions(name)), list(state.pinned),
                                     sorted(state.failed), sorted(state.corrupt),
                                     active_model_path=onnx if os.path.isfile(onnx) else None))
        return StoreModels(models, self.store.config().policy)

    def _versions(self, params: StoreModelRef) -> Record:
        check_name(params.name)
        rows = []
        for view in self.store.versions(params.name):
            m = view.manifest
            rows.append(StoreVersion(
                view.version, view.status, view.reason, m.created if m else "", m.author if m else "",
                m.precision if m else "", m.backend if m else "", m.total_size if m else 0, view.signer,
                m.security_counter if m else 0, view.imported))
        state = self.store.state(params.name)
        return StoreVersions(params.name, rows, self.store.active_version(params.name), state.previous, state.floor)

    def _history(self, params: StoreHistoryQuery) -> Record:
        if params.name != "_settings":
            check_name(params.name)
        entries = []
        for e in history.read(self.store.root, params.name, max(1, min(params.limit, 10000))):
            entries.append(StoreHistoryEntry(
                float(e.get("t", 0.0)), str(e.get("id", "")), str(e.get("action", "")), str(e.get("result", "")),
                str(e.get("who", "")), e.get("from"), e.get("to"), str(e.get("why", "")), str(e.get("detail", ""))))
        return StoreHistory(params.name, entries)

    def _pin(self, params: StorePin, pinned: bool) -> Record:
        check_name(params.name)
        self.store.pin(params.name, params.version, pinned, params.who)
        return self._versions(StoreModelRef(params.name))

    def _keys(self, _: Empty) -> Record:
        return StoreKeys([StoreKeyInfo(k.key_id, k.line(), k.comment) for k in self.store.trust().all_keys()])

    def _trust(self, params: StoreKey) -> Record:
        key = self.store.trust_key(params.public_key, params.who)
        return StoreKeyInfo(key.key_id, key.line(), key.comment)

    def _policy(self, _: Any) -> Record:
        cfg = self.store.config()
        return StorePolicy(cfg.policy, cfg.keep, list(cfg.restart_hook), list(cfg.health_hook), cfg.health_grace_s,
                           cfg.inhibit_path or self.store.path("run", "inhibit.lock"), cfg.inhibit_wait_s)

    def _set_policy(self, params: StorePolicyUpdate) -> Record:
        cfg = self.store.config()
        if params.policy is not None:
            cfg.policy = optional_policy(params.policy) or cfg.policy
        if params.keep is not None:
            cfg.keep = params.keep
        self.store.save_config(cfg, params.who)
        return self._policy(None)

    # -- uploads ----------------------------------------------------------------------------
    def _upload_begin(self, params: StoreUploadBegin) -> Record:
        return self.uploads.begin(params)

    def _upload_chunk(self, params: StoreUploadChunk) -> Record:
        return self.uploads.chunk(params)

    def _upload_finish(self, params: StoreUploadFinish) -> Record:
        return self.uploads.finish(params)
