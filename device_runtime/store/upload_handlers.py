"""The ``store.upload.*`` methods and what goes with them: incoming/, its receivers and its janitor.

``begin`` starts or resumes an upload (and, for a big package, a child that unpacks it as it
arrives: :mod:`receiver`; otherwise a thread that hashes what another writer appends), ``chunk``
appends base64 bytes, ``finish`` verifies the sha256, announced at the start or given at the end
(the service runs it off the event loop). Uploads nobody finishes or imports are removed once they
are older than ``incoming_max_age_s``: at start-up, then on a schedule.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import threading
from typing import Any, Dict, Optional

from device_runtime.package_format.errors import Code, StoreError
from device_runtime.protocol import (
    STORE_UPLOAD_CHUNK,
    StoreUploadBegin,
    StoreUploadChunk,
    StoreUploadFinish,
    StoreUploadState,
)
from device_runtime.store.receiver import Receivers
from device_runtime.store.store import Store
from device_runtime.store.upload import Incoming

log = logging.getLogger("edge_runtime.store")
SWEEP_MIN_S = 30.0
SWEEP_MAX_S = 3600.0


class UploadHandlers:
    def __init__(self, store: Store, stop: threading.Event, sweep_s: Optional[float] = None) -> None:
        """``sweep_s``: how often the janitor looks (default: a quarter of the configured age,
        between 30 s and an hour)."""
        self.store = store
        self.sweep_s = sweep_s
        self.incoming = Incoming(store)
        self.receivers = Receivers(store)
        self._stop = stop
        self._janitor: Optional[threading.Thread] = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        try:
            for note in self.incoming.check_unsynced():
                log.warning("store: %s", note)
        except OSError as exc:
            log.error("store: checking received packages failed: %s", exc)
        self.clean()
        self._janitor = threading.Thread(target=self._sweep, name="store-incoming", daemon=True)
        self._janitor.start()

    def close(self) -> None:
        self.receivers.close()
        if self._janitor is not None:
            self._janitor.join(timeout=5)

    def clean(self) -> None:
        """Remove abandoned uploads, and say so in the daemon's log."""
        try:
            for note in self.incoming.clean(self.store.config().incoming_max_age_s):
                log.warning("store: %s", note)
        except (OSError, StoreError) as exc:
            log.error("store: cleaning incoming/ failed (it is tried again later): %s", exc)

    def _sweep(self) -> None:
        while not self._stop.wait(self._interval()):
            self.clean()

    def _interval(self) -> float:
        if self.sweep_s is not None:
            return self.sweep_s
        try:
            age = self.store.config().incoming_max_age_s
        except StoreError:
            age = SWEEP_MAX_S
        return min(max(age / 4, SWEEP_MIN_S), SWEEP_MAX_S)

    # -- methods ----------------------------------------------------------------------------
    def begin(self, params: StoreUploadBegin) -> StoreUploadState:
        offset = self.incoming.begin(params.sha256, params.size, params.filename, params.digest_at_end)
        part = self.incoming.part_path(params.sha256)
        if offset < params.size:
            staged = params.stage and self.receivers.start(params.sha256, part, params.size, params.digest_at_end)
            if not staged:  # nobody else reads it as it arrives: hash it as it lands
                self.incoming.uploads.follow(part, params.size)
        return StoreUploadState(params.sha256, offset, params.size, part=part)

    def chunk(self, params: StoreUploadChunk) -> StoreUploadState:
        try:
            data = base64.b64decode(params.data, validate=True)
        except (binascii.Error, ValueError):
            raise StoreError(Code.BAD_REQUEST, "an upload chunk must be base64") from None
        if len(data) > STORE_UPLOAD_CHUNK:
            raise StoreError(Code.BAD_REQUEST, "an upload chunk holds at most %d bytes" % STORE_UPLOAD_CHUNK)
        return StoreUploadState(params.id, self.incoming.append(params.id, params.offset, data), 0)

    def remove(self, upload_id: str) -> int:
        """Take an upload out of incoming/ (a child following it is stopped first); bytes freed."""
        receiver = self.receivers.take(upload_id)
        if receiver is not None:
            receiver.stop()
        return self.incoming.remove(upload_id)

    def finish(self, params: StoreUploadFinish) -> StoreUploadState:
        """Runs off the event loop: hashing 100 MB takes a while (unless a receiver or the
        follower did it as the bytes arrived). A package a receiver followed is not fsync'd: the
        receiver copied its files into a staging folder and fsyncs those, the import that follows
        takes them and removes the package, and writing it to disk too would only double the
        disk time a deploy waits for (see Incoming.finish for a power cut in between)."""
        receiver = self.receivers.get(params.id)
        hashed = None
        if receiver is not None and self.incoming.received(params.id) == receiver.size:
            hashed = receiver.hashed()  # the child is reading the last bytes, or has
        try:
            path = self.incoming.finish(params.id, hashed, params.sha256, sync=hashed is None)
        except StoreError as exc:
            if exc.code == Code.HASH_MISMATCH and receiver is not None:
                self.receivers.take(params.id)
                receiver.stop()  # what it staged from those bytes goes with them, before the refusal is told
            raise
        upload_id = self.incoming.finished_id(path)
        if receiver is not None and upload_id is not None and upload_id != params.id:
            self.receivers.rename(params.id, upload_id, upload_id)  # named by its sha256 from now on
        size = os.path.getsize(path)
        return StoreUploadState(params.id, size, size, path)

    def commit_received(self, path: str, who: str, why: str) -> Optional[Dict[str, Any]]:
        """Import a finished upload from what its receiving child staged: the child's ``result``
        (with ``warm``, the warm-up load it ran), or None when there is none to take (then the
        caller imports the usual way, which also words any refusal)."""
        upload_id = self.incoming.finished_id(path)
        receiver = self.receivers.take(upload_id) if upload_id is not None else None
        if receiver is None:
            return None
        try:
            reply = receiver.commit(who, why)
        finally:  # reaped aside: an interpreter with a model loaded takes a while to exit
            threading.Thread(target=receiver.stop, name="store-receiver-reap", daemon=True).start()
        if reply is None or not isinstance(reply.get("result"), dict):
            if reply is not None and "error" in reply:
                log.info("store: the staged import of %s was refused (%s); importing it again to say why",
                         os.path.basename(path), reply["error"])
            return None
        return reply
