"""``JobService``: the jobs.* methods, the queue, worker processes and job events.

Every change of a job (state, progress, stage) is written to SQLite and published on
``TOPIC_JOB``; log lines go to SQLite and ``TOPIC_JOB_LOG``. Worker messages arrive on reader
threads, requests on the daemon's loop: one re-entrant lock guards the bookkeeping.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import queue
import threading
import time
import uuid
from typing import Any, Callable, Dict, List, Mapping, Optional

from device_runtime.jobs.conditions import ConditionsRecorder
from device_runtime.jobs.kinds import default_kinds
from device_runtime.jobs.kinds.base import JobKind, JobRefused
from device_runtime.jobs.messages import ERROR, LOG, META, PROGRESS, RESULT
from device_runtime.jobs.runner import WorkerProcess, describe_exit
from device_runtime.jobs.scheduler import decide
from device_runtime.jobs.states import advance, is_final
from device_runtime.jobs.store import JobStore
from device_runtime.protocol import (
    JOB_CANCELLED,
    JOB_FAILED,
    JOB_INTERRUPTED,
    JOB_QUEUED,
    JOB_RESULTS,
    JOB_RUNNING,
    JOB_STATES,
    JOB_SUCCEEDED,
    TOPIC_JOB,
    TOPIC_JOB_LOG,
    BenchmarkResult,
    Capabilities,
    ErrorCode,
    JobInfo,
    JobList,
    JobLog,
    JobLogQuery,
    JobQuery,
    JobRef,
    JobSubmit,
    PipelineSubmit,
    ProtocolError,
    Record,
)
from device_runtime.server.events import EventBus
from device_runtime.server.service import Handler, Service

STOPPED_ERROR = (
    "the device runtime was stopped while this job was running; its outputs were not written. Submit it again."
)
# Below this fraction a progress-based estimate is noise.
ETA_MIN_FRACTION = 0.05


@dataclasses.dataclass
class _Run:
    worker: WorkerProcess
    started: float
    temps: List[str] = dataclasses.field(default_factory=list)
    result: Optional[Dict[str, Any]] = None
    error: Optional[str] = None
    cancel_requested: bool = False
    recorder: Optional[ConditionsRecorder] = None
    history_key: Optional[str] = None
    estimate_s: Optional[float] = None


class JobService(Service):
    name = "jobs"

    def __init__(
        self,
        root: str,
        bus: EventBus,
        capabilities: Capabilities,
        kinds: Optional[List[JobKind]] = None,
        worker_env: Optional[Mapping[str, str]] = None,
        max_output_bytes: Optional[int] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``worker_env``: the workers' environment (default: the daemon's); ``max_output_bytes``:
        the largest file a job may write (RLIMIT_FSIZE in the worker), None for no limit."""
        self.root = root
        self.bus = bus
        self.capabilities = capabilities
        self.kinds = {kind.name: kind for kind in (kinds if kinds is not None else default_kinds())}
        self.worker_env = worker_env
        self.max_output_bytes = max_output_bytes
        self.clock = clock
        self.store: Optional[JobStore] = None
        self._active: Dict[str, JobInfo] = {}
        self._runs: Dict[str, _Run] = {}
        self._lock = threading.RLock()
        self._closing = False
        # Workers die with the thread that started them (PR_SET_PDEATHSIG follows the parent
        # thread), so one long-lived thread starts them all.
        self._spawns: "queue.Queue[Optional[str]]" = queue.Queue()  # noqa: UP037 - a string so Python 3.8 never evaluates it
        self._spawner: Optional[threading.Thread] = None

    # -- lifecycle ----------------------------------------------------------------------------
    def open(self) -> None:
        """Open the database, mark jobs a previous daemon left running as interrupted, resume the queue."""
        with self._lock:
            if self.store is not None:
                return
            self.store = JobStore(os.path.join(self.root, "jobs", "jobs.sqlite"))
            self._spawner = threading.Thread(target=self._spawn_loop, name="job-spawner", daemon=True)
            self._spawner.start()
            for job in self.store.recover(self.clock()):
                self._publish(job)
            for job in self.store.list(limit=1 << 30, states=[JOB_QUEUED]):
                self._active[job.id] = job
            self._schedule()

    def start(self, loop: Any) -> None:
        self.open()

    def close(self) -> None:
        with self._lock:
            self._closing = True
            runs = list(self._runs.values())
            for run in runs:
                run.worker.cancel(grace_s=1.0)
        for run in runs:
            run.worker.join(timeout=5.0)
        self._spawns.put(None)
        if self._spawner is not None:
            self._spawner.join(timeout=5.0)
        with self._lock:
            for job_id, run in list(self._runs.items()):
                if run.worker.pid is None:  # never started
                    del self._runs[job_id]
                    self._finish(self._active[job_id], JOB_INTERRUPTED, STOPPED_ERROR)
            if self.store is not None:
                self.store.close()
                self.store = None

    def handlers(self) -> Dict[str, Handler]:
        return {
            "jobs.submit": self._submit,
            "jobs.pipeline": self._pipeline,
            "jobs.list": self._list,
            "jobs.get": self._get,
            "jobs.cancel": self._cancel,
            "jobs.logs": self._logs,
        }

    def on_sample(self, t: float, values: Dict[str, float]) -> None:
        with self._lock:
            for run in self._runs.values():
                if run.recorder is not None:
                    run.recorder.add(values, t)

    # -- requests -----------------------------------------------------------------------------
    def _db(self) -> JobStore:
        if self.store is None:
            raise ProtocolError(ErrorCode.FAILED, "the job service is not running")
        return self.store

    def _make_job(self, step: JobSubmit, pipeline: Optional[str], after: Optional[str], label: str) -> JobInfo:
        kind = self.kinds.get(step.kind)
        if kind is None:
            raise ProtocolError(ErrorCode.BAD_FIELD, "unknown job kind %r; this runtime runs %s"
                                % (step.kind, ", ".join(sorted(self.kinds))))
        try:
            spec = kind.spec_type.from_wire(step.spec)
        except ProtocolError as exc:
            raise ProtocolError(ErrorCode.BAD_FIELD, "%s spec: %s" % (step.kind, exc.message)) from None
        try:
            kind.check(spec, self.capabilities)
        except JobRefused as exc:
            raise ProtocolError(ErrorCode.FAILED, "%s refused: %s" % (step.kind, exc)) from None
        return JobInfo(
            id=uuid.uuid4().hex[:12],
            kind=kind.name,
            state=JOB_QUEUED,
            spec=spec.to_wire(),
            label=step.label or label,
            created=self.clock(),
            stage="queued",
            pipeline=pipeline,
            after=after,
            gpu=kind.gpu,
        )

    def _enqueue(self, jobs: List[JobInfo]) -> List[JobInfo]:
        with self._lock:
            db = self._db()
            for job in jobs:
                db.put(job)
                self._active[job.id] = job
                self._publish(job)
            self._schedule()
            return [self._current(job.id) for job in jobs]

    def _submit(self, params: Record) -> Record:
        assert isinstance(params, JobSubmit)
        return self._enqueue([self._make_job(params, None, None, params.label)])[0]

    def _pipeline(self, params: Record) -> Record:
        assert isinstance(params, PipelineSubmit)
        if not params.steps:
            raise ProtocolError(ErrorCode.BAD_FIELD, "a pipeline needs at least one step")
        pipeline = "p" + uuid.uuid4().hex[:11]
        jobs: List[JobInfo] = []
        for index, step in enumerate(params.steps):
            label = "%s %d/%d %s" % (params.label or "pipeline", index + 1, len(params.steps), step.kind)
            jobs.append(self._make_job(step, pipeline, jobs[-1].id if jobs else None, label))
        return JobList(self._enqueue(jobs))

    def _list(self, params: Record) -> Record:
        assert isinstance(params, JobQuery)
        unknown = sorted(set(params.states) - set(JOB_STATES))
        if unknown:
            raise ProtocolError(ErrorCode.BAD_FIELD, "unknown job state(s) %s; states are %s"
                                % (", ".join(unknown), ", ".join(JOB_STATES)))
        return JobList(self._db().list(params.limit, params.states))

    def _current(self, job_id: str) -> JobInfo:
        with self._lock:
            job = self._active.get(job_id) or self._db().get(job_id)
        if job is None:
            raise ProtocolError(ErrorCode.BAD_FIELD, "no job with id %r on this device" % job_id)
        return job

    def _get(self, params: Record) -> Record:
        assert isinstance(params, JobRef)
        return self._current(params.id)

    def _cancel(self, params: Record) -> Record:
        assert isinstance(params, JobRef)
        with self._lock:
            job = self._current(params.id)
            if job.state == JOB_QUEUED:
                self._finish(job, JOB_CANCELLED, "cancelled before it started")
                self._schedule()
            elif job.state == JOB_RUNNING:
                run = self._runs[job.id]
                if not run.cancel_requested:
                    run.cancel_requested = True
                    self._update(dataclasses.replace(job, stage="cancelling"))
                    run.worker.cancel()
            return self._current(params.id)

    def _logs(self, params: Record) -> Record:
        assert isinstance(params, JobLogQuery)
        job = self._current(params.id)
        lines, total = self._db().read_log(params.id, params.offset, params.limit)
        done = is_final(job.state) and params.offset + len(lines) >= total
        return JobLog(params.id, params.offset, lines, done)

    # -- bookkeeping ----------------------------------------------------------------------------
    def _publish(self, job: JobInfo) -> None:
        self.bus.publish(TOPIC_JOB, job)

    def _update(self, job: JobInfo) -> None:
        if self.store is None:
            return
        self.store.put(job)
        if not is_final(job.state):
            self._active[job.id] = job
        self._publish(job)

    def _finish(self, job: JobInfo, state: str, error: Optional[str] = None,
                result: Optional[Dict[str, Any]] = None) -> None:
        final = advance(job, state, self.clock(), error)
        if result is not None:
            final = dataclasses.replace(final, result=result)
        self._active.pop(job.id, None)
        self._update(final)
        if self.store is not None:
            count = self.store.log_count(job.id)
            self.bus.publish(TOPIC_JOB_LOG, JobLog(job.id, count, [], True))

    def _schedule(self) -> None:
        if self._closing or self.store is None:
            return
        states = {job.id: job.state for job in self._active.values()}
        for job in self._active.values():
            if job.after and job.after not in states:
                before = self.store.get(job.after)
                if before is not None:
                    states[before.id] = before.state
        decision = decide(list(self._active.values()), states)
        for job, reason in decision.cancel:
            self._finish(job, JOB_CANCELLED, reason)
        for job in decision.start:
            self._start(job)
        if decision.cancel:
            self._schedule()  # cancelling may cancel the next step in turn

    def _start(self, job: JobInfo) -> None:
        request = {
            "job_id": job.id,
            "kind": job.kind,
            "spec": job.spec,
            "context": {
                "root": self.root,
                "capabilities": self.capabilities.to_wire(),
                "max_output_bytes": self.max_output_bytes,
            },
        }
        worker = WorkerProcess(
            request,
            on_message=functools.partial(self._on_message, job.id),
            on_exit=functools.partial(self._on_exit, job.id),
            env=self.worker_env,
        )
        running = advance(job, JOB_RUNNING, self.clock())
        recorder = None
        if job.gpu:
            recorder = ConditionsRecorder(self.capabilities.l4t is not None, self.capabilities.power_mode)
        self._runs[job.id] = _Run(worker, time.monotonic(), recorder=recorder)
        self._update(running)
        self._spawns.put(job.id)

    def _spawn_loop(self) -> None:
        while True:
            job_id = self._spawns.get()
            if job_id is None:
                return
            with self._lock:
                run, job = self._runs.get(job_id), self._active.get(job_id)
                if run is None or job is None or self._closing:
                    continue
                if run.cancel_requested:
                    del self._runs[job_id]
                    self._finish(job, JOB_CANCELLED, "cancelled by request; nothing was written")
                    self._schedule()
                    continue
                try:
                    run.worker.start()
                except OSError as exc:
                    del self._runs[job_id]
                    self._finish(job, JOB_FAILED, "could not start the job's process: %s" % exc)
                    self._schedule()

    def _on_message(self, job_id: str, message: Dict[str, Any]) -> None:
        with self._lock:
            run = self._runs.get(job_id)
            job = self._active.get(job_id)
            if run is None or job is None or self.store is None:
                return
            kind = message.get("t")
            if kind == PROGRESS:
                self._on_progress(job, run, message)
            elif kind == LOG:
                lines = [str(line) for line in message.get("lines") or []]
                offset, kept = self.store.append_log(job_id, lines)
                if kept:
                    self.bus.publish(TOPIC_JOB_LOG, JobLog(job_id, offset, kept, False))
            elif kind == META:
                if isinstance(message.get("temp"), str):
                    run.temps.append(message["temp"])
                if isinstance(message.get("history_key"), str):
                    run.history_key = message["history_key"]
                    run.estimate_s = self.store.estimate(run.history_key)
            elif kind == RESULT and isinstance(message.get("result"), dict):
                run.result = message["result"]
            elif kind == ERROR:
                run.error = str(message.get("message") or "the job failed")

    def _on_progress(self, job: JobInfo, run: _Run, message: Dict[str, Any]) -> None:
        try:
            fraction = min(max(float(message.get("fraction", 0.0)), 0.0), 1.0)
        except (TypeError, ValueError):
            return
        elapsed = time.monotonic() - run.started
        eta: Optional[float] = None
        if run.estimate_s is not None:
            eta = max(run.estimate_s - elapsed, 0.0)
        elif fraction >= ETA_MIN_FRACTION:
            eta = elapsed * (1.0 - fraction) / fraction
        stage = job.stage if run.cancel_requested else str(message.get("stage") or job.stage)
        self._update(dataclasses.replace(job, progress=fraction, stage=stage, eta_s=eta))

    def _on_exit(self, job_id: str, code: int, stderr_tail: List[str]) -> None:
        with self._lock:
            run = self._runs.pop(job_id, None)
            job = self._active.get(job_id)
            if run is None or job is None or self.store is None:
                return
            result = self._checked_result(job, run) if code == 0 and run.result is not None else None
            if result is not None:
                self._finish(job, JOB_SUCCEEDED, result=result)
                if run.history_key:
                    self.store.record_duration(run.history_key, self.clock(), time.monotonic() - run.started)
            else:
                for temp in run.temps:
                    try:
                        os.unlink(temp)
                    except OSError:
                        pass
                if run.cancel_requested:
                    self._finish(job, JOB_CANCELLED, "cancelled by request; nothing was written")
                elif self._closing:
                    self._finish(job, JOB_INTERRUPTED, STOPPED_ERROR)
                else:
                    self._finish(job, JOB_FAILED, run.error or describe_exit(code, stderr_tail))
            self._schedule()

    def _checked_result(self, job: JobInfo, run: _Run) -> Optional[Dict[str, Any]]:
        assert run.result is not None
        try:
            record = JOB_RESULTS[job.kind].from_wire(run.result)
        except (ProtocolError, KeyError) as exc:
            run.error = "the %s job produced a malformed result (%s); report this as a bug" % (job.kind, exc)
            return None
        if run.recorder is not None and isinstance(record, BenchmarkResult):
            why = run.recorder.not_comparable()
            record.conditions = run.recorder.conditions()
            record.not_comparable = why
            record.comparable = not why
            run.recorder.add_energy(record, float(job.spec.get("warmup_s", 1.0)))
        return record.to_wire()
