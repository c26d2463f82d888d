"""The jobs of one device as the console sees them: list, submit, cancel, logs, live updates.

The daemon owns the jobs; a :class:`JobTracker` mirrors them. It subscribes to the job and
job-log topics, merges pushed :class:`JobInfo` records with request replies (a reply never
overwrites a fresher pushed state), keeps each job's log lines by offset so nothing is shown
twice or lost, and re-attaches after a reconnect: list again, then fetch each log from the
last offset it holds. Event listeners run on the connection's reader thread, which must never
wait for a reply, so gap filling and re-attaching run on the tracker's own worker thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from console.core.devices.client import ConnectionLost, DeviceError
from console.core.devices.session import DeviceSession, State, Subscription
from console.core.optimize.benchmarks import BenchmarkBook, BenchmarkEntry
from console.transport.base import TransportError
from device_runtime.protocol import (
    JOB_FINAL_STATES,
    JOB_QUEUED,
    JOB_RESULTS,
    JOB_SUCCEEDED,
    JOBS_CANCEL,
    JOBS_GET,
    JOBS_LIST,
    JOBS_LOGS,
    JOBS_PIPELINE,
    JOBS_SUBMIT,
    TOPIC_JOB,
    TOPIC_JOB_LOG,
    BenchmarkResult,
    Event,
    JobInfo,
    JobLog,
    JobLogQuery,
    JobQuery,
    JobRef,
    JobSubmit,
    PipelineSubmit,
    ProtocolError,
    Record,
)

JobListener = Callable[[JobInfo], None]
LogListener = Callable[[str, int, list[str]], None]  # job id, offset of the first new line, new lines
ResetListener = Callable[[], None]

LOG_PAGE = 1000
MAX_LOG_LINES = 20_000


def is_final(info: JobInfo) -> bool:
    return info.state in JOB_FINAL_STATES


def typed_result(info: JobInfo) -> Record | None:
    """The job's result as its kind's record; raises :class:`ProtocolError` when malformed."""
    if info.result is None:
        return None
    record = JOB_RESULTS.get(info.kind)
    if record is None:
        raise ProtocolError("unknown_type", "job kind %r has no known result type" % info.kind)
    return record.from_wire(info.result)


def job_title(info: JobInfo) -> str:
    """``benchmark 'demo fp16' (3f2a91c0)``: how confirmations and messages name a job."""
    label = " '%s'" % info.label if info.label else ""
    return "%s%s (%s)" % (info.kind, label, info.id)


@dataclass
class LogBuffer:
    """A job's log lines from ``base`` on; older lines beyond the cap are dropped in front."""

    base: int = 0
    lines: list[str] = field(default_factory=list)
    done: bool = False

    @property
    def end(self) -> int:
        return self.base + len(self.lines)

    def merge(self, offset: int, lines: list[str], cap: int) -> list[str] | None:
        """Append the part of ``lines`` (starting at ``offset``) not yet held; None on a gap."""
        if offset > self.end:
            return None
        new = lines[self.end - offset:]
        self.lines.extend(new)
        extra = len(self.lines) - cap
        if extra > 0:
            del self.lines[:extra]
            self.base += extra
        return new


_STATE_RANK = {JOB_QUEUED: 0}


def _rank(info: JobInfo) -> int:
    return 2 if is_final(info) else _STATE_RANK.get(info.state, 1)


class _Worker:
    """One background thread for requests triggered from the reader thread."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, task: Callable[[], None]) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
        self._queue.put(task)

    def _run(self) -> None:
        while True:
            task = self._queue.get()
            if task is None:
                return
            task()

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            if thread is not threading.current_thread():
                thread.join(timeout=10)


class JobTracker:
    def __init__(self, session: DeviceSession, book: BenchmarkBook | None = None,
                 max_log_lines: int = MAX_LOG_LINES) -> None:
        self.session = session
        self.book = book if book is not None else BenchmarkBook()
        self.max_log_lines = max_log_lines
        self.job_listeners: list[JobListener] = []
        self.log_listeners: list[LogListener] = []
        self.reset_listeners: list[ResetListener] = []
        self.problems: list[str] = []  # background failures, as sentences
        self.attached = False
        self._jobs: dict[str, JobInfo] = {}
        self._logs: dict[str, LogBuffer] = {}
        self._event_seq = 0
        self._last_event: dict[str, int] = {}
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._started = False
        self._follow: Subscription | None = None
        self._worker = _Worker("jobs-%s" % session.name)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Listen to the session; attach now when connected, else on the next connect."""
        if not self._started:
            self._started = True
            self._follow = self.session.follow([TOPIC_JOB, TOPIC_JOB_LOG], self.handle_event)
            self.session.state_listeners.append(self._on_state)
        if self.session.state is State.CONNECTED and not self.attached:
            self.attach()

    def attach(self) -> list[JobInfo]:
        """Subscribe on the current connection, list the jobs and catch up unfinished logs."""
        self.session.subscribe_events([TOPIC_JOB, TOPIC_JOB_LOG])
        jobs = self.refresh()
        with self._lock:
            behind = [job_id for job_id, buf in self._logs.items() if not buf.done]
        for job_id in behind:
            self.fetch_logs(job_id)
        self.attached = True
        return jobs

    def close(self) -> None:
        if self._started:
            self._started = False
            follow, self._follow = self._follow, None
            if follow is not None:
                follow.close()
            if self._on_state in self.session.state_listeners:
                self.session.state_listeners.remove(self._on_state)
        self._worker.close()

    def _on_state(self, state: State, _message: str) -> None:
        if state is State.CONNECTED:
            self._worker.submit(self._reattach)
        elif state in (State.FAILED, State.DISCONNECTED):
            self.attached = False
            with self._changed:
                self._changed.notify_all()

    def _reattach(self) -> None:
        if self.attached or self.session.state is not State.CONNECTED:
            return
        self._background(self.attach, "re-attaching to the jobs of %s" % self.session.name)

    def _background(self, task: Callable[[], object], what: str) -> None:
        try:
            task()
        except (DeviceError, TransportError, ProtocolError) as exc:
            self.problems.append("%s failed: %s" % (what, exc))

    # -- reading -----------------------------------------------------------------------------
    @property
    def events_seen(self) -> int:
        """Job events handled so far; pass it to :meth:`apply` as ``since`` for a reply."""
        with self._lock:
            return self._event_seq

    def jobs(self) -> list[JobInfo]:
        """Newest first."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: (j.created, j.id), reverse=True)

    def job(self, job_id: str) -> JobInfo | None:
        with self._lock:
            return self._jobs.get(job_id)

    def log(self, job_id: str) -> LogBuffer:
        """A copy of what is held of a job's log."""
        with self._lock:
            buf = self._logs.get(job_id)
            if buf is None:
                return LogBuffer()
            return LogBuffer(buf.base, list(buf.lines), buf.done)

    # -- requests ----------------------------------------------------------------------------
    def refresh(self, limit: int = 200) -> list[JobInfo]:
        with self._lock:
            since = self._event_seq
        reply = self.session.call(JOBS_LIST, JobQuery(limit=limit))
        for info in reply.jobs:
            self.apply(info, since)
        for listener in list(self.reset_listeners):
            listener()
        return self.jobs()

    def get(self, job_id: str) -> JobInfo:
        with self._lock:
            since = self._event_seq
        info = self.session.call(JOBS_GET, JobRef(job_id))
        return self.apply(info, since)

    def submit(self, kind: str, spec: Record, label: str = "") -> JobInfo:
        with self._lock:
            since = self._event_seq
        info = self.session.call(JOBS_SUBMIT, JobSubmit(kind, spec.to_wire(), label))
        return self.apply(info, since)

    def pipeline(self, steps: list[tuple[str, Record, str]], label: str = "") -> list[JobInfo]:
        """Submit jobs that run one after another; a failure cancels the rest."""
        with self._lock:
            since = self._event_seq
        body = PipelineSubmit([JobSubmit(kind, spec.to_wire(), step_label) for kind, spec, step_label in steps], label)
        reply = self.session.call(JOBS_PIPELINE, body)
        return [self.apply(info, since) for info in reply.jobs]

    def cancel(self, job_id: str) -> JobInfo:
        with self._lock:
            since = self._event_seq
        info = self.session.call(JOBS_CANCEL, JobRef(job_id))
        return self.apply(info, since)

    def fetch_logs(self, job_id: str, offset: int | None = None) -> LogBuffer:
        """Fetch a job's log from ``offset`` (default: the end of what is held) to its end."""
        with self._lock:
            buf = self._logs.setdefault(job_id, LogBuffer())
            start = buf.end if offset is None else offset
        while True:
            reply = self.session.call(JOBS_LOGS, JobLogQuery(job_id, start, LOG_PAGE))
            self._merge_log(reply)
            start = reply.offset + len(reply.lines)
            if reply.done or len(reply.lines) < LOG_PAGE:
                break
        return self.log(job_id)

    # -- events ------------------------------------------------------------------------------
    def handle_event(self, event: Event) -> None:
        """Called with each pushed job or job-log event (on the reader thread)."""
        try:
            if event.topic == TOPIC_JOB:
                info = JobInfo.from_wire(event.data)
                with self._lock:
                    self._event_seq += 1
                    self._last_event[info.id] = self._event_seq
                self.apply(info, None)
            elif event.topic == TOPIC_JOB_LOG:
                log = JobLog.from_wire(event.data)
                if self._merge_log(log) is None:
                    self._worker.submit(lambda: self._background(
                        lambda: self.fetch_logs(log.id), "catching up the log of job %s" % log.id))
        except ProtocolError as exc:
            self.problems.append("a %s event from %s was malformed: %s" % (event.topic, self.session.name, exc.message))

    def apply(self, info: JobInfo, since: int | None = None) -> JobInfo:
        """Keep ``info`` unless what is held is fresher. ``since`` is the event count when the request
        that returned ``info`` was sent; None for pushed events, which arrive in order."""
        with self._lock:
            held = self._jobs.get(info.id)
            fresher_event = since is not None and self._last_event.get(info.id, -1) > since
            if held is not None and (fresher_event or (is_final(held) and not is_final(info))
                                     or (since is not None and _rank(held) > _rank(info))):
                return held
            self._jobs[info.id] = info
            self._changed.notify_all()
        if info.state == JOB_SUCCEEDED and info.kind == "benchmark" and info.result is not None:
            self._keep_benchmark(info)  # before the listeners, so they find it in the book
        for listener in list(self.job_listeners):
            listener(info)
        return info

    def _keep_benchmark(self, info: JobInfo) -> None:
        try:
            result = BenchmarkResult.from_wire(info.result or {})
        except ProtocolError as exc:
            self.problems.append("the result of job %s was malformed: %s" % (info.id, exc.message))
            return
        self.book.add(BenchmarkEntry(info.id, self.session.name, result, info.finished or 0.0))

    def _merge_log(self, log: JobLog) -> list[str] | None:
        with self._lock:
            buf = self._logs.setdefault(log.id, LogBuffer())
            before = buf.end
            new = buf.merge(log.offset, log.lines, self.max_log_lines)
            if new is None:
                return None
            buf.done = buf.done or log.done
            self._changed.notify_all()
        if new:
            for listener in list(self.log_listeners):
                listener(log.id, before, new)
        return new

    # -- waiting -----------------------------------------------------------------------------
    def wait(self, job_id: str, on_update: JobListener | None = None, timeout: float | None = None,
             poll_s: float = 5.0, clock: Callable[[], float] | None = None) -> JobInfo:
        """Block until the job is over, calling ``on_update`` with each new state; asks the
        device every ``poll_s`` in case an event was missed. Raises :class:`ConnectionLost` when
        the link drops (reconnect, and the tracker re-attaches) and TimeoutError."""
        import time

        now = clock or time.monotonic
        deadline = None if timeout is None else now() + timeout
        last_poll = now()
        seen: JobInfo | None = None
        while True:
            with self._changed:
                info = self._jobs.get(job_id)
                if info is seen or info is None:
                    self._changed.wait(0.2)
                    info = self._jobs.get(job_id)
            if self.session.state is not State.CONNECTED:
                raise ConnectionLost(self.session.message or "%s is not connected" % self.session.name)
            if info is None or now() - last_poll > poll_s:
                last_poll = now()
                info = self.get(job_id)
            if info is not None and info is not seen:
                seen = info
                if on_update is not None:
                    on_update(info)
                if is_final(info):
                    return info
            if deadline is not None and now() > deadline:
                raise TimeoutError("job %s did not finish in time" % job_id)
