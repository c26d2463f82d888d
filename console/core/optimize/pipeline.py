"""The Optimize wizard's work as core objects: files to the device where needed, jobs, waiting, cancel.

A :class:`ModelCheck` is step 1: the model picked on this computer goes to an SSH device, then a
validate job reads it, and :class:`Validated` says whether it is fit to optimise. An
:class:`OptimizePipeline` takes a device's :class:`~console.core.jobs.tracker.JobTracker`, the model
and the target (an :class:`~console.core.optimize.plan.OptimizeChoice`: precision, backend, shapes,
calibration). Building it checks everything that can be checked before anything is sent and raises
:class:`~console.core.jobs.specs.SpecError` with the sentence to show. :meth:`OptimizePipeline.run`
then runs the steps in order on the calling thread (any plain thread; no Qt):

1. files picked on this computer go to an SSH device (the model when it is not there yet, then the
   calibration data), through a :class:`~console.core.transfers.sending.FileStager`;
2. the planned jobs are submitted as one device pipeline (a failure cancels the rest there);
3. it waits for them, following the tracker's events, and ends with the summary.

Each move is reported to the listener as a typed event: :class:`StepEvent` (which step of how many,
its state, percent, a sentence), :class:`Submitted` (the job ids), :class:`Problem` (a request that
went wrong while the pipeline goes on) and last :class:`Finished` (succeeded, failed or cancelled, in
words that say what happened and what to do, and the ONNX result to deploy). ``cancel()`` may be
called from any thread and never waits on the device: the running thread sends the cancels.
"""

from __future__ import annotations

import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Generic, TypeVar

from console.core.devices.client import DeviceError
from console.core.devices.session import State
from console.core.jobs.specs import SpecError, device_path, local_input, missing_shapes, sends_files
from console.core.jobs.tracker import JobTracker, is_final, job_title, typed_result
from console.core.optimize.deploy_result import result_onnx
from console.core.optimize.plan import OptimizeChoice, pipeline_label, plan_pipeline
from console.core.optimize.summary import pipeline_summary
from console.core.transfers.progress import TransferStatus
from console.core.transfers.sending import FileStager, SendFailed
from console.transport.base import TransportError
from device_runtime.protocol import (
    JOB_CANCELLED,
    JOB_FAILED,
    JOB_QUEUED,
    JOB_SUCCEEDED,
    JobInfo,
    ProtocolError,
    ValidateReport,
    ValidateSpec,
)

SEND_MODEL = "optimize.send-model"
SEND_CALIBRATION = "optimize.send-calibration"
SEND = "send"  # the kind of a step that sends a file
RUNNING = "running"
POLL_S = 5.0  # ask the device for the running job this often, in case an event was missed

_REQUEST_ERRORS = (DeviceError, TransportError, ProtocolError, OSError)


@dataclass(frozen=True)
class StepEvent:
    """A step started, moved or ended."""

    step: int  # 1-based
    steps: int
    kind: str  # SEND, or the job's kind (benchmark, quantize, build, accuracy)
    state: str  # RUNNING / succeeded / failed for a send; the job's state for a job
    percent: float  # 0-100
    text: str  # one line for a status bar
    job: JobInfo | None = None  # the job, for a job step
    tag: str = ""  # SEND_MODEL or SEND_CALIBRATION, for a send step
    transfer: TransferStatus | None = None  # bytes, rate and time left, for a send step


@dataclass(frozen=True)
class Submitted:
    """The device took the jobs: their ids, in the order they run."""

    job_ids: tuple[str, ...]
    name: str


@dataclass(frozen=True)
class Problem:
    """A request went wrong while the pipeline goes on (a cancel that did not reach the device)."""

    text: str


@dataclass(frozen=True)
class Validated:
    """The last event of a model check: the report, or why there is none, in words."""

    report: ValidateReport | None  # None when the check did not end with a report
    text: str  # "Valid · fp32 · 1 input · ..." / "Not valid: ..." / what went wrong and what to do
    model: str | None = None  # the model's path on the device (where the jobs read it)
    job: JobInfo | None = None  # the validate job


@dataclass(frozen=True)
class Finished:
    """The last event: how the pipeline ended, in words, and what it leaves."""

    state: str  # succeeded, failed or cancelled
    text: str  # the summary, or what went wrong and what to do
    result: str | None = None  # the ONNX file to deploy (on the device) after a success
    jobs: tuple[JobInfo, ...] = ()


PipelineEvent = StepEvent | Submitted | Problem | Finished | Validated
Listener = Callable[[PipelineEvent], None]


def _words(exc: BaseException) -> str:
    return (getattr(exc, "message", None) or str(exc)).strip().rstrip(".") or type(exc).__name__


def _job_text(step: int, steps: int, info: JobInfo) -> str:
    if info.state == RUNNING:
        return "Step %d of %d: %s · %.0f%% %s" % (step, steps, info.kind, info.progress * 100, info.stage)
    return "Step %d of %d: %s %s" % (step, steps, info.kind, info.state)


FinalEvent = TypeVar("FinalEvent", bound="Finished | Validated")


class OptimizeRun(ABC, Generic[FinalEvent]):
    """Files sent, then jobs followed to their end: what a model check and a pipeline share."""

    def __init__(self, tracker: JobTracker, sends: list[tuple[str, Path]], stager: FileStager | None,
                 listener: Listener | None, poll_s: float) -> None:
        self.tracker = tracker
        self.listener = listener
        self.poll_s = poll_s
        self.device = tracker.session.entry.display_name
        self._sends = sends
        self.stager = stager if stager is not None else (FileStager(tracker.session) if sends else None)
        self.steps = len(sends)
        self.job_ids: tuple[str, ...] = ()
        self.finished: FinalEvent | None = None
        self._cancelled = False
        self._cancel_sent = False
        self._closed = False
        self._dirty = False
        self._changed = threading.Condition()

    @property
    def sends(self) -> list[tuple[str, Path]]:
        """The files sent before the jobs: (SEND_MODEL or SEND_CALIBRATION, the file on this computer)."""
        return list(self._sends)

    def _send_text(self, tag: str, local: Path) -> str:
        what = "model" if tag == SEND_MODEL else "calibration data"
        return "Sending the %s %s to %s…" % (what, local.name, self.device)

    # -- running -----------------------------------------------------------------------------
    def start(self) -> threading.Thread:
        """Run on a thread of its own (daemon: it never keeps the program alive)."""
        thread = threading.Thread(target=self.run, name="optimize-%s" % self.tracker.session.name, daemon=True)
        thread.start()
        return thread

    def run(self) -> FinalEvent | None:
        """Run every step in order; the last event, or None when closed before the end."""
        self.tracker.job_listeners.append(self._on_job)
        self.tracker.reset_listeners.append(self._on_reset)
        try:
            finished = self._run()
        finally:
            if self._on_job in self.tracker.job_listeners:
                self.tracker.job_listeners.remove(self._on_job)
            if self._on_reset in self.tracker.reset_listeners:
                self.tracker.reset_listeners.remove(self._on_reset)
        if finished is not None:
            self.finished = finished
            self._emit(finished)
        return finished

    @abstractmethod
    def _run(self) -> FinalEvent | None:
        """The steps themselves, on the running thread; the last event, or None when closed."""

    def cancel(self) -> None:
        """Stop the file on its way and cancel the jobs not over yet (from any thread; never waits)."""
        with self._changed:
            self._cancelled = True
            self._dirty = True
            self._changed.notify_all()
        if self.stager is not None:
            for tag, _local in self._sends:
                self.stager.stop(tag)

    def close(self) -> None:
        """Stop following (the jobs go on on the device) and hear nothing more."""
        with self._changed:
            self._closed = True
            self.listener = None
            self._changed.notify_all()
        if self.stager is not None:
            for tag, _local in self._sends:
                self.stager.stop(tag)

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def _on_job(self, _info: JobInfo) -> None:  # on the connection's reader thread: only a wake-up
        with self._changed:
            self._dirty = True
            self._changed.notify_all()

    def _on_reset(self) -> None:
        with self._changed:
            self._dirty = True
            self._changed.notify_all()

    def _emit(self, event: PipelineEvent) -> None:
        listener = self.listener
        if listener is not None and not self._closed:
            listener(event)

    def _send(self, step: int, tag: str, local: Path) -> str | SendFailed:
        """The device path of ``local``, or why it is not there (reported as a failed send step)."""
        text = self._send_text(tag, local)
        self._emit(StepEvent(step, self.steps, SEND, RUNNING, 0.0, text, tag=tag))

        def on_status(status: TransferStatus) -> None:
            percent = 100.0 * status.sent / status.total if status.total else 0.0
            self._emit(StepEvent(step, self.steps, SEND, RUNNING, percent, text, tag=tag, transfer=status))

        assert self.stager is not None  # there are files to send only with a stager
        try:
            path = self.stager.send(tag, [local], on_status)[0]
        except SendFailed as exc:
            self._emit(StepEvent(step, self.steps, SEND, JOB_FAILED, 0.0, exc.message, tag=tag))
            return exc
        self._emit(StepEvent(step, self.steps, SEND, JOB_SUCCEEDED, 100.0, "%s is on %s." % (local.name, self.device),
                             tag=tag))
        return path

    def _submitted(self, infos: list[JobInfo], name: str) -> None:
        self.job_ids = tuple(info.id for info in infos)
        self._emit(Submitted(self.job_ids, name))

    def _wait(self) -> list[JobInfo] | None:
        """Follow the jobs to their end (a cancel is sent from here); None when closed first."""
        first = len(self._sends) + 1
        seen: dict[str, JobInfo] = {}
        polled = time.monotonic()
        while True:
            with self._changed:
                if not self._dirty and not self._closed:
                    self._changed.wait(min(self.poll_s, 1.0))
                dirty, self._dirty = self._dirty, False
                closed, cancelled = self._closed, self._cancelled
            if closed:
                return None
            jobs = [self.tracker.job(job_id) for job_id in self.job_ids]
            for offset, info in enumerate(jobs):
                if info is not None and seen.get(info.id) is not info:
                    seen[info.id] = info
                    self._emit(StepEvent(first + offset, self.steps, info.kind, info.state, info.progress * 100,
                                         _job_text(first + offset, self.steps, info), job=info))
            known = [info for info in jobs if info is not None]
            if len(known) == len(jobs) and all(is_final(info) for info in known):
                return known
            if cancelled and not self._cancel_sent:
                self._cancel_sent = True
                self._cancel_jobs(known)
            elif not dirty and time.monotonic() - polled > self.poll_s:
                polled = time.monotonic()
                self._poll(known)

    def _poll(self, jobs: list[JobInfo]) -> None:
        """Ask for the first job not over, in case its event was missed (only while attached)."""
        if self.tracker.session.state is not State.CONNECTED or not self.tracker.attached:
            return
        open_jobs = [info for info in jobs if not is_final(info)]
        if open_jobs:
            try:
                self.tracker.get(open_jobs[0].id)
            except _REQUEST_ERRORS:
                pass  # the link is going; the tracker re-attaches and lists the jobs again

    def _cancel_jobs(self, jobs: list[JobInfo]) -> None:
        # Queued steps first, so none of them starts while the running one is stopping.
        for info in reversed([info for info in jobs if not is_final(info)]):
            try:
                self.tracker.cancel(info.id)
            except _REQUEST_ERRORS as exc:
                self._emit(Problem("Cancelling %s failed: %s. It may still be running on %s; cancel it on the "
                                   "Jobs page once %s answers." % (job_title(info), _words(exc), self.device,
                                                                   self.device)))


class ModelCheck(OptimizeRun["Validated"]):
    """Step 1 of the wizard: a model picked on this computer (sent to an SSH device first) or one the
    device holds, checked by a validate job; ends with :class:`Validated`."""

    def __init__(self, tracker: JobTracker, model: str, on_device: bool = False, stager: FileStager | None = None,
                 listener: Listener | None = None, poll_s: float = POLL_S) -> None:
        """Check the path; raises :class:`SpecError` before anything is sent or submitted."""
        entry = tracker.session.entry
        if not model.strip():
            raise SpecError("pick an ONNX model to start")
        sends: list[tuple[str, Path]] = []
        self.local: Path | None = None  # the model's file on this computer; None for one only the device holds
        self.model: str | None = None  # its path on the device, once known
        if on_device:
            self.model = model
        elif sends_files(entry):
            self.local = local_input(entry, model)
            sends.append((SEND_MODEL, self.local))
        else:
            self.model = device_path(entry, model)
            self.local = Path(self.model)
        super().__init__(tracker, sends, stager, listener, poll_s)
        self.steps = len(sends) + 1

    def opening(self) -> str:
        if self.local is not None and self._sends:
            return "%s is validated on %s once it is there." % (self.local.name, self.device)
        return self._validating()

    def _validating(self) -> str:
        return "Validating %s…" % os.path.basename(self.model or "")

    def _run(self) -> Validated | None:
        for index, (_tag, local) in enumerate(self._sends):
            path = self._send(index + 1, SEND_MODEL, local)
            if isinstance(path, SendFailed):
                return Validated(None, path.message)
            self.model = path
        if self._closed:
            return None
        assert self.model is not None
        name = os.path.basename(self.model)
        self._emit(StepEvent(self.steps, self.steps, "validate", JOB_QUEUED, 0.0, self._validating()))
        try:
            info = self.tracker.submit("validate", ValidateSpec(self.model), "validate %s" % name)
        except _REQUEST_ERRORS as exc:
            return Validated(None, "Starting the validate job failed: %s. Choose the model again once %s "
                             "answers." % (_words(exc), self.device), self.model)
        self._submitted([info], "validate %s" % name)
        jobs = self._wait()
        if jobs is None:
            return None
        return validated(jobs[0], self.model)


def validated(info: JobInfo, model: str | None = None) -> Validated:
    """A finished validate job, in the words the wizard shows."""
    if info.state != JOB_SUCCEEDED:
        return Validated(None, "Validation %s: %s" % (info.state, info.error or "no reason given"), model, info)
    try:
        record = typed_result(info)
    except ProtocolError as exc:
        return Validated(None, "The validate report is malformed: %s" % exc.message, model, info)
    if not isinstance(record, ValidateReport):
        return Validated(None, "The validate job of %s left no report; run it again." % (model or info.id), model,
                         info)
    if record.ok:
        text = "Valid · %s · %d input%s · %s parameters" % (
            record.precision, len(record.inputs), "" if len(record.inputs) == 1 else "s", f"{record.parameters:,}")
    else:
        text = "Not valid: %s" % (record.checker_error or record.shape_inference_error or "see the report")
    return Validated(record, text, model, info)


class OptimizePipeline(OptimizeRun["Finished"]):
    """Step 3 of the wizard: the planned jobs for a model and a target; ends with :class:`Finished`."""

    def __init__(self, tracker: JobTracker, choice: OptimizeChoice, report: ValidateReport | None = None,
                 stager: FileStager | None = None, model_on_device: bool = True,
                 listener: Listener | None = None, poll_s: float = POLL_S) -> None:
        """Check the choice; raises :class:`SpecError` before anything is sent or submitted.

        ``choice.model`` is a path on the device (``model_on_device``, e.g. the model a validate job
        read), else a file on this computer, sent to an SSH device first. ``choice.calibration`` is a
        file on this computer, sent to an SSH device; ``choice.output_dir`` a folder on the device.
        ``report`` (the model's validate report) lets the dynamic inputs without a shape be named now.
        """
        session = tracker.session
        entry = session.entry
        remote = sends_files(entry)
        choice = replace(choice, shapes=dict(choice.shapes), preprocess=dict(choice.preprocess))
        sends: list[tuple[str, Path]] = []
        if not model_on_device:
            if remote:
                sends.append((SEND_MODEL, local_input(entry, choice.model)))
            else:
                choice.model = device_path(entry, choice.model)
        if choice.calibration:
            if remote:
                sends.append((SEND_CALIBRATION, local_input(entry, choice.calibration)))
            else:
                choice.calibration = device_path(entry, choice.calibration)
        if choice.output_dir:  # on an SSH device, a folder there
            choice.output_dir = device_path(entry, choice.output_dir, must_exist=not remote)
        if report is not None:
            missing = missing_shapes(report, choice.shapes)
            if missing:
                raise SpecError(missing)
        self.tensorrt = session.capabilities.tensorrt if session.capabilities is not None else None
        plan = plan_pipeline(choice, self.tensorrt)  # every check before anything is sent
        super().__init__(tracker, sends, stager, listener, poll_s)
        self.choice = choice
        self.name = pipeline_label(choice)
        self.steps = len(sends) + len(plan)

    def opening(self) -> str:
        """What the first step does, in words, for the moment the pipeline starts."""
        if self._sends:
            return self._send_text(*self._sends[0])
        kinds = [kind for kind, _, _ in plan_pipeline(self.choice, self.tensorrt)]
        return "Starting %d steps: %s…" % (len(kinds), " → ".join(kinds))

    def _run(self) -> Finished | None:
        choice = self.choice
        for index, (tag, local) in enumerate(self._sends):
            if self._cancelled:
                return Finished(JOB_CANCELLED, "Cancelled before sending %s; nothing ran on %s."
                                % (local.name, self.device))
            path = self._send(index + 1, tag, local)
            if isinstance(path, SendFailed):
                if self._cancelled:
                    return Finished(JOB_CANCELLED, "Cancelled while sending %s; nothing ran on %s. %s"
                                    % (local.name, self.device, path.message))
                return Finished(JOB_FAILED, "Cannot start: %s" % path.message)
            if tag == SEND_MODEL:
                choice.model = path
            else:
                choice.calibration = path
        try:
            plan = plan_pipeline(choice, self.tensorrt)
        except SpecError as exc:
            return Finished(JOB_FAILED, "Cannot start: %s." % str(exc).rstrip("."))
        if self._closed:
            return None
        if self._cancelled:
            return Finished(JOB_CANCELLED, "Cancelled before the jobs started; nothing ran on %s." % self.device)
        try:
            infos = self.tracker.pipeline(plan, self.name)
        except _REQUEST_ERRORS as exc:
            return Finished(JOB_FAILED, "Starting the pipeline failed: %s. Nothing ran; start it again once %s "
                            "answers." % (_words(exc), self.device))
        self._submitted(infos, self.name)
        jobs = self._wait()
        if jobs is None:
            return None
        stopped = next((info for info in jobs if info.state != JOB_SUCCEEDED), None)
        state = JOB_SUCCEEDED if stopped is None else (JOB_CANCELLED if stopped.state == JOB_CANCELLED
                                                       else JOB_FAILED)
        result = result_onnx(plan, choice.model) if stopped is None else None
        return Finished(state, pipeline_summary(jobs), result, tuple(jobs))
