"""Push a file into a device's store ``incoming/`` area, and keep at it through a bad link.

Each attempt connects (if need be), asks the device how many bytes of the file it already holds
(``store.upload.begin``), appends the rest and has the device check the whole file's sha256
before it is accepted (``store.upload.finish``). A device of protocol 3 or newer takes the sha256
at the end: the file is hashed here while it is read and sent, and on the device as it lands, so
neither side reads it twice; the upload is named after the file (path, size, time, this computer),
so a later push of the unchanged file resumes it. An older device names the upload by the sha256,
which is then computed first. The rest goes over SFTP with pipelined writes on an SSH device,
straight into the partial file on this computer's own device, and in protocol chunks where neither
may write it. A dropped link ends the attempt; the next one comes
after a backoff delay and resumes from what the device holds, so nothing is sent twice. Attempts
that make no progress and the total time are bounded; what arrived stays on the device, and a
later push of the same file resumes it. A push only stores: the device does not start unpacking
a package as it arrives, as it does for a deploy.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from console.core.devices.backoff import Backoff
from console.core.devices.client import ConnectionLost, DeviceError, IncompatibleRuntime
from console.core.devices.session import DeviceSession, State
from console.core.transfers.push_progress import (
    CONNECTING,
    DONE,
    HASHING,
    RECONNECTING,
    SENDING,
    VERIFYING,
    ProgressFn,
    PushProgress,
    Ticker,
)
from console.core.transfers.rate_meter import RateMeter
from console.core.transfers.upload_stream import (
    FileStream,
    begin,
    digest_at_end,
    finish,
    send_rest,
    stream_sha256,
)
from console.transport.base import TransportError
from console.transport.file_sink import StreamChanged
from console.transport.sftp_upload import file_sha256
from console.transport.ssh_errors import SshError

DEFAULT_ATTEMPTS = 10  # in a row without progress; an attempt that moves bytes starts the count again
HASH_RATE_BPS = 20e6  # a slow device's disk, for how long the device may take to hash the file


class PushFailed(Exception):
    """The push stopped (cancelled, or the local file changed); the message says what to do.
    A device that refuses the file raises the device's own DeviceError instead."""


class PushGaveUp(PushFailed):
    """The link stayed down for too long; what arrived is kept and a later push resumes it."""


@dataclass(frozen=True)
class PushResult:
    path: str  # where the verified file is on the device
    sha256: str
    size: int
    resumed_from: int  # bytes the device already held when this push began
    attempts: int
    seconds: float


def is_retryable(exc: BaseException) -> bool:
    """A failure the link coming back may cure, as opposed to a refusal that stays one."""
    if isinstance(exc, SshError):
        return exc.retryable
    if isinstance(exc, IncompatibleRuntime):
        return False
    if isinstance(exc, DeviceError):
        return isinstance(exc, ConnectionLost) or exc.code == "timeout"
    return isinstance(exc, (TransportError, OSError, EOFError))


class Pusher:
    """One push of one file. ``stop`` (an Event) cancels it between blocks and during waits."""

    def __init__(self, session: DeviceSession, local: Path, progress: ProgressFn | None = None,
                 attempts: int = DEFAULT_ATTEMPTS, deadline_s: float | None = None, backoff: Backoff | None = None,
                 clock: Callable[[], float] = time.monotonic, tick_s: float = 0.2,
                 stop: threading.Event | None = None) -> None:
        if attempts < 1:
            raise ValueError("a push needs at least one attempt")
        self.session = session
        self.local = local
        self.attempts = attempts
        self.deadline_s = deadline_s
        self.backoff = backoff or Backoff(initial_s=0.5, max_s=10.0)
        self.clock = clock
        self.stop = stop or threading.Event()
        self._progress = progress
        self._tick_s = tick_s
        self._lock = threading.Lock()
        self._state = HASHING
        self._message = ""
        self._sent = 0
        self._total = 0
        self._attempt = 0
        self._meter = RateMeter()
        self._start = clock()
        self._resumed_from: int | None = None  # what the device held when the first attempt asked
        self._begun_at: int | None = None  # this attempt's starting offset, once the device said it

    # -- what the listener sees ---------------------------------------------------------------
    def snapshot(self) -> PushProgress:
        now = self.clock()
        with self._lock:
            rate = self._meter.rate(now) if self._state == SENDING else 0.0
            return PushProgress(self._state, self._sent, self._total, rate, now - self._start, self._attempt,
                                self._message)

    def _set(self, state: str, message: str = "", sent: int | None = None) -> None:
        with self._lock:
            self._state, self._message = state, message
            if sent is not None:
                self._sent = sent
                self._meter.reset()
                self._meter.add(self.clock(), sent)

    def _moved(self, sent: int) -> None:
        if self.stop.is_set():
            raise PushFailed("the push of %s was cancelled" % self.local.name)
        if self.deadline_s is not None and self.clock() - self._start > self.deadline_s:
            raise PushGaveUp("gave up pushing %s to %s: not done within %.0f s; %.1f of %.1f MB were sent and what "
                             "reached the device is kept: push the same file again to resume from there"
                             % (self.local.name, self.session.name, self.deadline_s, sent / 1e6, self._total / 1e6))
        with self._lock:
            self._sent = sent
            self._meter.add(self.clock(), sent)

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> PushResult:
        ticker = Ticker(self.snapshot, self._progress, self._tick_s) if self._progress is not None else None
        if ticker is not None:
            ticker.start()
        try:
            return self._run()
        finally:
            if ticker is not None:
                ticker.stop()

    def _run(self) -> PushResult:
        before = self.local.stat()
        size = before.st_size
        with self._lock:
            self._total = size
        stream = FileStream(self.local)
        failures = 0  # attempts in a row that moved no byte
        while True:
            self._attempt += 1
            self._begun_at = None
            try:
                path, digest = self._attempt_once(stream)
            except StreamChanged:
                raise PushFailed("%s changed while it was being pushed; push it again once it is complete"
                                 % self.local) from None
            except Exception as exc:
                if isinstance(exc, PushFailed) or not self._link_may_cure(exc):
                    raise
                self._check_unchanged(before)  # a local file that went away is not the link's fault
                moved = self._begun_at is not None and self._sent > self._begun_at
                failures = 0 if moved else failures + 1
                self._wait_before_retry(exc, failures)
                continue
            self._set(DONE, sent=size)
            _PUSHED[stream.identity] = digest
            return PushResult(path, digest, size, self._resumed_from or 0, self._attempt, self.clock() - self._start)

    def _check_unchanged(self, before: os.stat_result) -> None:
        try:
            now = self.local.stat()
        except OSError as exc:
            raise PushFailed("cannot read %s any more: %s" % (self.local, exc.strerror or exc)) from exc
        if (now.st_size, now.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            raise PushFailed("%s changed while it was being pushed; push it again once it is complete" % self.local)

    def _link_may_cure(self, exc: Exception) -> bool:
        # A request made just after the link dropped is refused as "not connected" by the session
        # itself, not by the device: that is the link too.
        lost = isinstance(exc, DeviceError) and self.session.state is not State.CONNECTED
        return lost or is_retryable(exc)

    def _wait_before_retry(self, exc: BaseException, failures: int) -> None:
        held = "%.1f of %.1f MB were sent and what reached the device is kept" % (self._sent / 1e6,
                                                                                  self._total / 1e6)
        resume = ": push the same file again to resume from there"
        if failures >= self.attempts:
            raise PushGaveUp("gave up pushing %s to %s after %d attempts in a row that got nothing across (last: "
                             "%s); %s%s" % (self.local.name, self.session.name, failures, exc, held, resume)) from exc
        delay = self.backoff.next_delay()
        elapsed = self.clock() - self._start
        if self.deadline_s is not None and elapsed + delay > self.deadline_s:
            raise PushGaveUp("gave up pushing %s to %s: not done within %.0f s (last: %s); %s%s"
                             % (self.local.name, self.session.name, self.deadline_s, exc, held, resume)) from exc
        self._set(RECONNECTING, "%s; attempt %d in %.1f s" % (str(exc) or type(exc).__name__, self._attempt + 1,
                                                              delay))
        if self.stop.wait(delay):
            raise PushFailed("the push of %s was cancelled; %s%s" % (self.local.name, held, resume))

    def _attempt_once(self, stream: FileStream) -> tuple[str, str]:
        """One connection's try: the device's path of the verified file, and its sha256."""
        self._set(CONNECTING, "" if self._attempt == 1 else "attempt %d" % self._attempt)
        self.session.connect()
        size = stream.size
        known = _PUSHED.get(stream.identity)  # pushed from this process before: the device may hold it
        if known is None and not digest_at_end(self.session):
            self._set(HASHING)  # an older device names the upload by its sha256
            known = _PUSHED[stream.identity] = file_sha256(self.local)
        state = begin(self.session, stream, stream.upload_name(), False, known)
        if self._resumed_from is None:
            self._resumed_from = state.offset
        self._begun_at = state.offset
        self._set(SENDING, sent=state.offset)
        digest = known
        if state.offset < size:
            got = send_rest(self.session, stream, state, False, known is None, self._moved)
            digest = digest or got
            self.backoff.reset()  # the link carried the whole file: a later drop starts from short delays
        elif digest is None:
            digest = stream_sha256(stream)  # every byte arrived before; only the sha256 was missing
        self._set(VERIFYING)
        path = finish(self.session, state.id, None if known else digest, 120 + size / HASH_RATE_BPS)
        return path, digest


_PUSHED: dict[tuple[int, int, int, int], str] = {}  # (device, inode, size, mtime_ns) -> the sha256 a push found
