"""The daemon's side of unpacking uploads as they arrive (see :mod:`receive` for the child).

When a package upload begins, a receiving child follows it; by the time the last byte is in,
the upload is hashed, the version staged and its model loaded once. ``store.upload.finish``
then takes the child's sha256 instead of reading 100 MB again, and ``store.import`` of that
upload asks the child to commit its staged version instead of unpacking it again. Whenever the
child did not get all the way (it failed, stalled, was not started, the bytes did not match),
both take their usual path, which is also the one that words any refusal.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import threading
from dataclasses import asdict
from typing import Any, Dict, List, Optional

from device_runtime.package_format.errors import Code, StoreError
from device_runtime.process import hang_up, python_command
from device_runtime.store.recovery import remove_free_stagings
from device_runtime.store.store import Store

log = logging.getLogger("edge_runtime.store")
MIN_BYTES = 8 << 20  # smaller packages unpack in a blink: not worth a process
MAX_RECEIVERS = 2
HASH_WAIT_S = 30.0  # how long a finish waits for a child still catching up with the last bytes
WARM_WAIT_S = 600.0


def killed_child(what: str, returncode: int, store: Store) -> StoreError:
    """A child ended by a signal: remove the staging it left at once and say which signal."""
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = "signal %d" % -returncode
    try:
        removed = len(remove_free_stagings(store))
    except OSError as exc:
        log.error("store: removing what the killed %s child staged failed (start-up does it): %s", what, exc)
        removed = 0
    return StoreError(Code.IO, "the %s process was killed by %s; %s. Nothing was stored: send or deploy the "
                               "package again" % (what, name, "what it had unpacked was removed" if removed
                                                  else "it had unpacked nothing"))


class Receiver:
    def __init__(self, store: Store, upload_id: str, part: str, size: int, digest_at_end: bool = False) -> None:
        """``digest_at_end``: ``upload_id`` is the sender's name, and the sha256 the bytes must
        have is only known at finish (:meth:`commit` hands it over)."""
        self.store = store
        self.upload_id = upload_id
        self.sha256: Optional[str] = None if digest_at_end else upload_id
        self.size = size
        self.proc = subprocess.Popen(
            [*python_command(), "-m", "device_runtime.store.child", "receive", "--root", store.root, "--part", part,
             "--sha256", "" if digest_at_end else upload_id, "--size", str(size),
             "--facts", json.dumps(asdict(store.facts)), "--policy", store.default_policy],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._cond = threading.Condition()
        self._lines: Dict[str, Any] = {}
        self._ended = False
        threading.Thread(target=self._read, name="store-receiver", daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                line = json.loads(raw.decode("utf-8", "replace"))
            except ValueError:
                continue
            if isinstance(line, dict):
                with self._cond:
                    self._lines.update(line)
                    self._cond.notify_all()
        self.proc.wait()
        if self.proc.returncode < 0:  # killed: what it staged goes now, not at the next start
            log.warning("store: %s", killed_child("receiving", self.proc.returncode, self.store).message)
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def _wait(self, keys: List[str], timeout: float) -> Optional[str]:
        """The first of ``keys`` the child reported, or None when it stopped (or timed out) first."""
        with self._cond:
            self._cond.wait_for(lambda: self._ended or any(k in self._lines for k in [*keys, "failed"]), timeout)
            return next((k for k in keys if k in self._lines), None)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def hashed(self, timeout: float = HASH_WAIT_S) -> Optional[str]:
        """The sha256 of the whole upload as the child read it, when that is the announced one
        (or, for an upload whose sha256 comes at the end, whatever it is: finish compares it with
        the sender's); None when it did not read it all or it differs (then whoever asks hashes
        the file itself)."""
        if self._wait(["hashed"], timeout) is None or self._lines.get("size") != self.size:
            return None
        digest = self._lines["hashed"]
        if not isinstance(digest, str) or (self.sha256 is not None and digest != self.sha256):
            return None
        return digest

    def commit(self, who: str, why: str) -> Optional[Dict[str, Any]]:
        """Have the child rename its staged version into the store: its ``result`` or ``error``
        (with ``warm``: the warm-up load it ran), or None when it has nothing staged."""
        if self._wait(["warm", "warm_error"], WARM_WAIT_S) is None or self.proc.stdin is None:
            return None
        if self.sha256 is None:
            return None  # no sha256 was verified for what it staged
        try:
            self.proc.stdin.write((json.dumps({"commit": {"who": who, "why": why, "sha256": self.sha256}}) + "\n")
                                  .encode())
            self.proc.stdin.flush()
        except OSError:
            return None
        if self._wait(["result", "error"], WARM_WAIT_S) is None:
            return None
        return {k: self._lines[k] for k in ("result", "error", "warm", "warm_error") if k in self._lines}

    def stop(self) -> None:
        """End the child; it removes what it staged (start-up clean-up would otherwise)."""
        hang_up(self.proc, 10, self.proc.stdin)


class Receivers:
    """The receiving children by upload id, at most :data:`MAX_RECEIVERS` at a time."""

    def __init__(self, store: Store, min_bytes: int = MIN_BYTES) -> None:
        self.store = store
        self.min_bytes = min_bytes
        self._lock = threading.Lock()
        self._by_id: Dict[str, Receiver] = {}

    def start(self, upload_id: str, part: str, size: int, digest_at_end: bool = False) -> bool:
        """Start a child following the upload; True when one follows it (started now or before)."""
        if size < self.min_bytes:
            return False
        with self._lock:
            current = self._by_id.get(upload_id)
            if current is not None and current.alive:
                return True  # a resumed upload: the child is still following it
            for key in [k for k, r in self._by_id.items() if not r.alive]:
                del self._by_id[key]
            if len(self._by_id) >= MAX_RECEIVERS:
                return False
            try:
                self._by_id[upload_id] = Receiver(self.store, upload_id, part, size, digest_at_end)
            except OSError as exc:
                log.warning("store: cannot start unpacking the upload as it arrives (%s); it is imported after", exc)
                return False
            return True

    def rename(self, upload_id: str, new_id: str, sha256: str) -> None:
        """An upload named by its sender was verified as ``sha256``: its child is found under
        that name from now on, and may commit what it staged from those bytes."""
        with self._lock:
            receiver = self._by_id.pop(upload_id, None)
            if receiver is not None:
                receiver.upload_id, receiver.sha256 = new_id, sha256
                self._by_id[new_id] = receiver

    def get(self, upload_id: str) -> Optional[Receiver]:
        with self._lock:
            return self._by_id.get(upload_id)

    def take(self, upload_id: str) -> Optional[Receiver]:
        with self._lock:
            return self._by_id.pop(upload_id, None)

    def close(self) -> None:
        with self._lock:
            receivers, self._by_id = list(self._by_id.values()), {}
        for receiver in receivers:
            receiver.stop()
