"""The Qt face of a :class:`~console.core.jobs.tracker.JobTracker`, shared by the Optimize, Jobs and
Benchmarks pages of one device.

The tracker calls its listeners on the connection's reader thread; this adapter re-emits them
as signals, which Qt queues onto the GUI thread. Every request (submit, cancel, logs) runs on
one worker thread (:class:`~console.ui.qt_adapter.QtAdapter`'s), so the GUI never waits on the
device.
"""

from __future__ import annotations

from concurrent.futures import Future

from PySide6.QtCore import QObject, Signal

from console.core.jobs.tracker import JobTracker
from console.core.optimize.benchmarks import BenchmarkBook
from console.ui.devices.qt_session import QtSession
from console.ui.qt_adapter import QtAdapter
from console.ui.widgets.file_sender import FileSender
from device_runtime.protocol import JobInfo, Record


class QtJobs(QtAdapter):
    jobChanged = Signal(str)  # job id; read the job from ``tracker.job(id)``
    logAppended = Signal(str, int, list)  # job id, offset of the first new line, new lines
    jobsReset = Signal()
    benchmarksChanged = Signal()
    submitted = Signal(str, list)  # the caller's tag, ids of the jobs one submit or pipeline created
    # failed(str): "Cancelling failed: ..." (QtAdapter's)

    def __init__(self, session_model: QtSession, book: BenchmarkBook | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__("jobs-%s" % session_model.name, parent=parent)
        self.session_model = session_model
        self.tracker = JobTracker(session_model.session, book)
        self.files = FileSender(session_model, parent=self)  # files from this computer for the jobs
        self.tracker.job_listeners.append(self._on_job)
        self.tracker.log_listeners.append(self._on_log)
        self.tracker.reset_listeners.append(self._on_reset)
        self._run(self.tracker.start, "Listing the jobs of %s" % session_model.display_name)

    @property
    def display_name(self) -> str:
        return self.session_model.display_name

    @property
    def book(self) -> BenchmarkBook:
        return self.tracker.book

    # -- user intent -------------------------------------------------------------------------
    def submit(self, kind: str, spec: Record, label: str = "", tag: str = "") -> Future[JobInfo | None]:
        def job() -> JobInfo:
            info = self.tracker.submit(kind, spec, label)
            self.submitted.emit(tag, [info.id])
            return info

        return self._run(job, "Starting the %s job" % kind)

    def pipeline(self, steps: list[tuple[str, Record, str]], label: str = "",
                 tag: str = "") -> Future[list[JobInfo] | None]:
        def job() -> list[JobInfo]:
            infos = self.tracker.pipeline(steps, label)
            self.submitted.emit(tag, [info.id for info in infos])
            return infos

        return self._run(job, "Starting the pipeline")

    def cancel(self, job_ids: list[str]) -> Future[None]:
        def job() -> None:
            for job_id in job_ids:
                self.tracker.cancel(job_id)

        return self._run(job, "Cancelling")

    def load_logs(self, job_id: str) -> Future[None]:
        def job() -> None:
            self.tracker.fetch_logs(job_id)

        return self._run(job, "Reading the log of job %s" % job_id)

    def refresh(self) -> Future[None]:
        def job() -> None:
            self.tracker.refresh()

        return self._run(job, "Listing the jobs of %s" % self.display_name)

    # close(): stop sending files, wait for the worker, let go of the tracker; safe to call twice
    def _closing(self) -> None:
        self.files.close()

    def _closed_down(self) -> None:
        self.tracker.close()

    # -- tracker -> signals ------------------------------------------------------------------
    def _on_job(self, info: JobInfo) -> None:
        self.jobChanged.emit(info.id)
        if info.kind == "benchmark" and info.result is not None:
            self.benchmarksChanged.emit()

    def _on_log(self, job_id: str, offset: int, lines: list[str]) -> None:
        self.logAppended.emit(job_id, offset, lines)

    def _on_reset(self) -> None:
        self.jobsReset.emit()
        self.benchmarksChanged.emit()
