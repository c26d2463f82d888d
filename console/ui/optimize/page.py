"""The Optimize page: a wizard from an ONNX file to a faster model with proof that it is accurate.

1 · Model: pick an ONNX file (or the demo model); a validate job runs and its report is shown.
2 · Target: precision, backend, shapes of dynamic inputs, calibration data, output folder.
3 · Run: the pipeline (baseline benchmark, quantize, build, benchmark, accuracy) with each
step's state and progress, the running step's log, a summary at the end, and cancel.

Files are picked on this computer. A device reached over SSH gets them sent first (the model
before validating, calibration data before the pipeline), off the GUI thread, with the bytes,
rate and time left shown under the step and a Stop button; its outputs are paths on the device.

The work itself is core: a :class:`~console.core.optimize.pipeline.ModelCheck` (send, validate) and an
:class:`~console.core.optimize.pipeline.OptimizePipeline` (send, submit, wait, cancel, summary); this
page builds them from what is picked and presents the events a
:class:`~console.ui.optimize.qt_pipeline.QtOptimizePipeline` relays onto the GUI thread.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from console.core.devices.session import State
from console.core.jobs.report import validate_text
from console.core.jobs.specs import SpecError, sends_files
from console.core.jobs.tracker import is_final
from console.core.optimize.pipeline import (
    RUNNING,
    SEND,
    SEND_CALIBRATION,
    SEND_MODEL,
    Finished,
    ModelCheck,
    OptimizePipeline,
    PipelineEvent,
    Problem,
    StepEvent,
    Submitted,
    Validated,
)
from console.ui.charts.chart import plain_label
from console.ui.devices.qt_session import QtSession
from console.ui.jobs.page import job_table_view, log_view
from console.ui.jobs.qt_jobs import QtJobs
from console.ui.jobs.table import JobTableModel
from console.ui.models.qt_models import QtModels
from console.ui.optimize.deploy_result import DeployResultRow
from console.ui.optimize.form import TargetForm
from console.ui.optimize.inputs import OptimizeInputs
from console.ui.optimize.qt_pipeline import QtOptimizePipeline
from device_runtime.protocol import JobInfo, ValidateReport


class OptimizePage(QWidget):
    def __init__(self, model: QtJobs, session_model: QtSession, parent: QWidget | None = None,
                 demo_file: Path | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.session_model = session_model
        self.demo_file = demo_file  # this computer's copy of the demo model, sent to a device without one
        self.validate_job: str | None = None
        self.report: ValidateReport | None = None
        self.pipeline_ids: list[str] = []
        self.pipeline_name = ""
        self.pipeline_result: str | None = None  # the ONNX file the pipeline ends with, on the device
        self.followed: str | None = None
        self.file_dialog: QFileDialog | None = None
        self.confirm_box: QMessageBox | None = None
        self._log_end = 0
        self._device_model: str | None = None  # a model path that is on the device already (the demo)
        self.checker = QtOptimizePipeline(self)  # the model check under way, its events on this thread
        self.runner = QtOptimizePipeline(self)  # the pipeline under way
        self._model_sending = False  # the model check is sending the model to the device
        self._pipeline_sending = False  # the pipeline is sending a file to the device

        self.path = QLineEdit()
        self.path.setPlaceholderText("ONNX file on this computer")
        self.browse = QPushButton("Browse…")
        self.demo = QPushButton("Demo model")
        self.demo.setToolTip("The small ONNX classifier every runtime builds for itself")
        self.model_status = plain_label("Pick an ONNX model to start.")
        self.model_status.setWordWrap(True)
        # Once it is valid, the chosen model itself can go to the device as the next version of one of its
        # models, before (or without) a pipeline.
        self.deploy_model = DeployResultRow("Deploy this model as it is, as a new version of",
                                            "deployed from the Optimize page")
        self._model_local: Path | None = None  # the chosen model's file on this computer, None for one on the device
        self.inputs = OptimizeInputs(model.files, model.display_name, self)
        self.model_transfer = self.inputs.rows[SEND_MODEL]
        self.calibration_transfer = self.inputs.rows[SEND_CALIBRATION]
        self.form = TargetForm()
        self.start = QPushButton("Run pipeline")
        self.cancel = QPushButton("Cancel…")
        self.run_status = plain_label("")
        self.run_status.setWordWrap(True)
        self.report_view = log_view()
        self.report_view.setPlaceholderText("The validate report appears here.")
        self.steps_model = JobTableModel(model.tracker, only=[])
        self.steps = job_table_view(self.steps_model, compact=True)
        self.log = log_view()
        self.log.setPlaceholderText("The running step's log appears here.")

        left = QWidget()
        column = QVBoxLayout(left)
        column.addWidget(self._group("1 · Model", self._model_box()))
        self.target_box = self._group("2 · Target", self.form)
        column.addWidget(self.target_box)
        run = QWidget()
        run_layout = QVBoxLayout(run)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start)
        buttons.addWidget(self.cancel)
        buttons.addStretch(1)
        run_layout.addLayout(buttons)
        run_layout.addWidget(self.calibration_transfer)
        run_layout.addWidget(self.run_status)
        self.deploy_result = DeployResultRow()  # shown once a pipeline has succeeded
        run_layout.addWidget(self.deploy_result)
        self.run_box = self._group("3 · Run", run)
        column.addWidget(self.run_box)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(left)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.report_view)
        right.addWidget(self.steps)
        right.addWidget(self.log)
        right.setSizes([300, 200, 300])
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(scroll)
        split.addWidget(right)
        split.setSizes([460, 740])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addWidget(split)

        self.browse.clicked.connect(self._on_browse)
        self.demo.clicked.connect(self._on_demo)
        self.path.returnPressed.connect(self.validate)
        self.start.clicked.connect(self.run_pipeline)
        self.cancel.clicked.connect(self._on_cancel_clicked)
        self.form.changed.connect(self._update_buttons)
        self.form.calibration_browse.clicked.connect(self._on_browse_calibration)
        self.checker.happened.connect(self._on_check_event)
        self.runner.happened.connect(self._on_pipeline_event)
        model.jobChanged.connect(self._on_job_changed)
        model.jobsReset.connect(self._on_reset)
        model.logAppended.connect(self._on_log)
        model.failed.connect(self.run_status.setText)
        self.inputs.changed.connect(self._update_buttons)
        if sends_files(session_model.session.entry):
            self.path.setPlaceholderText("ONNX file on this computer: it is sent to %s" % model.display_name)
            self.form.output_dir.setPlaceholderText("a folder on %s (absolute path)" % model.display_name)
        self._update_buttons()

    def ready(self) -> bool:
        """Connected and listening for jobs (for --screenshot)."""
        return self.model.tracker.attached

    @staticmethod
    def _group(title: str, body: QWidget) -> QGroupBox:
        box = QGroupBox(title)
        layout = QVBoxLayout(box)
        layout.addWidget(body)
        return box

    def _model_box(self) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(self.browse)
        row.addWidget(self.demo)
        layout.addLayout(row)
        layout.addWidget(self.model_transfer)
        layout.addWidget(self.model_status)
        layout.addWidget(self.deploy_model)
        return box

    def set_store(self, store: QtModels, keys_dir: Path) -> None:
        """The device's models: both deploy rows (the chosen model as it is, a pipeline's result) deploy
        through the Models page's own deploy."""
        self.deploy_model.set_store(store, keys_dir)
        self.deploy_result.set_store(store, keys_dir)

    # -- step 1: model -----------------------------------------------------------------------
    def _open_dialog(self, title: str, filters: str, on_chosen: object, directory: bool = False) -> None:
        dialog = QFileDialog(self, title, os.path.dirname(self.path.text()) or os.path.expanduser("~"), filters)
        dialog.setFileMode(QFileDialog.FileMode.Directory if directory else QFileDialog.FileMode.ExistingFile)
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        dialog.fileSelected.connect(on_chosen)
        self.file_dialog = dialog
        dialog.open()

    def _on_browse(self) -> None:
        self._open_dialog("Choose an ONNX model", "ONNX models (*.onnx);;All files (*)", self.choose_model)

    def _on_browse_calibration(self) -> None:
        self._open_dialog("Choose calibration data", "NumPy arrays (*.npy *.npz);;All files (*)",
                          self.form.calibration.setText)

    def _on_demo(self) -> None:
        """The device's own demo model, else this computer's copy sent there, else why neither."""
        caps = self.session_model.capabilities
        if caps is not None and caps.demo_model:
            self.choose_model(caps.demo_model, on_device=True)
        elif self.demo_file is not None and self.demo_file.is_file():
            self.choose_model(str(self.demo_file))
        elif self.session_model.state is not State.CONNECTED:
            self.model_status.setText("%s is not connected; the demo model can be used once it is back."
                                      % self.model.display_name)
        else:
            self.model_status.setText(
                "%s's runtime does not provide the demo model (an installed runtime runs without it) and this "
                "computer has no copy yet. Open This computer once (it writes one), or choose an ONNX file."
                % self.model.display_name)

    def choose_model(self, path: str, on_device: bool = False) -> None:
        """Validate ``path``: a file on this computer, or with ``on_device`` one the device holds."""
        self._device_model = path if on_device else None
        self.path.setText(path)
        self.validate()

    def validate(self) -> None:
        if self._model_sending or self._pipeline_sending:
            return
        self.report = None
        self.validate_job = None
        self._model_local = None
        self.deploy_model.setVisible(False)
        self.form.set_report(None, self.session_model.capabilities)
        self.report_view.clear()
        text = self.path.text().strip()
        try:
            check = ModelCheck(self.model.tracker, text, on_device=bool(text) and text == self._device_model,
                               stager=self.model.files.stager)
        except SpecError as exc:
            self.checker.close()  # an earlier check's answer is not this path's
            self.model_status.setText(str(exc).capitalize() + ".")
            self._update_buttons()
            return
        self._model_local = check.local
        self._model_sending = bool(check.sends)
        self.model_status.setText(check.opening())
        self.checker.start(check)
        self._update_buttons()

    def _on_check_event(self, event: PipelineEvent) -> None:
        if isinstance(event, StepEvent):
            if event.kind == SEND:
                if event.state != RUNNING:
                    self._model_sending = False
                    self.inputs.finish(event.tag)
            elif event.job is None:  # the validate step begins
                self.model_status.setText(event.text)
        elif isinstance(event, Submitted) and event.job_ids:
            self.validate_job = event.job_ids[0]
        elif isinstance(event, Validated):
            self._model_sending = False
            self._show_validation(event)
        self._update_buttons()

    def _show_validation(self, event: Validated) -> None:
        self.model_status.setText(event.text)
        record = event.report
        if record is None:
            return
        self.report = record
        self.report_view.setPlainText(validate_text(record))
        self.form.set_report(record, self.session_model.capabilities)
        if record.ok and self._model_local is not None:
            self.deploy_model.offer(str(self._model_local), True, self.model.display_name)

    # -- step 3: run -------------------------------------------------------------------------
    def run_pipeline(self) -> None:
        if self.report is None or not self.report.ok or self._running() or self._model_sending:
            return
        try:
            choice = self.form.choice(self.report.model)
            # Every check before anything is sent; the calibration data goes to an SSH device first.
            pipeline = OptimizePipeline(self.model.tracker, choice, self.report, self.model.files.stager)
        except SpecError as exc:
            self.run_status.setText("Cannot start: %s." % str(exc).rstrip("."))
            return
        self.pipeline_name = pipeline.name
        self.pipeline_result = None
        self.deploy_result.setVisible(False)
        self.run_status.setText(pipeline.opening())
        self.runner.start(pipeline)
        self._update_buttons()

    def _running(self) -> bool:
        return self.runner.active

    def _open_jobs(self) -> list[JobInfo]:
        jobs = [j for j in (self.model.tracker.job(i) for i in self.pipeline_ids) if j is not None]
        return [j for j in jobs if not is_final(j)]

    def _on_pipeline_event(self, event: PipelineEvent) -> None:
        if isinstance(event, StepEvent):
            if event.kind == SEND:
                self._pipeline_sending = event.state == RUNNING
                if event.state == RUNNING:
                    self.run_status.setText(event.text)
                else:
                    self.inputs.finish(event.tag)
            elif event.state == RUNNING and event.job is not None:
                self._follow(event.job)
                self.run_status.setText(event.text)
        elif isinstance(event, Submitted):
            self.pipeline_ids = list(event.job_ids)
            self.steps_model.set_only(list(event.job_ids))
            self.followed = None
        elif isinstance(event, Problem):
            self.run_status.setText(event.text)
        elif isinstance(event, Finished):
            self._pipeline_sending = False
            self.run_status.setText(event.text)
            self.pipeline_result = event.result
            if event.state == "succeeded" and not self.deploy_result.isVisibleTo(self):
                self.deploy_result.offer(self.pipeline_result, not sends_files(self.session_model.session.entry),
                                         self.model.display_name)
        self._update_buttons()

    def _follow(self, running: JobInfo) -> None:
        """Show the running step's log under its own heading."""
        if running.id == self.followed:
            return
        self.followed = running.id
        self.log.appendPlainText("── %s ──" % (running.label or running.kind))
        self._log_end = 0
        self._show_log()
        self.model.load_logs(running.id)

    def _on_reset(self) -> None:
        self.steps_model.reload()
        self._update_buttons()

    def _on_job_changed(self, job_id: str) -> None:
        if job_id in self.pipeline_ids:
            self.steps_model.job_changed(job_id)
            self._update_buttons()

    def _show_log(self) -> None:
        if self.followed is None:
            return
        buf = self.model.tracker.log(self.followed)
        start = max(self._log_end, buf.base)
        new = buf.lines[start - buf.base:]
        if new:
            self.log.appendPlainText("\n".join(new))
        self._log_end = buf.end

    def _on_log(self, job_id: str, _offset: int, _lines: list[str]) -> None:
        if job_id == self.followed:
            self._show_log()

    def _update_buttons(self) -> None:
        ready = self.report is not None and self.report.ok
        running = self._running()
        sending = self._model_sending or self._pipeline_sending
        self.target_box.setEnabled(ready and not running and not sending)
        self.start.setEnabled(ready and not running and not sending)
        self.cancel.setEnabled(running and bool(self._open_jobs()))
        self.browse.setEnabled(not running and not sending)
        self.demo.setEnabled(not running and not sending)
        self.path.setEnabled(not sending)

    def _on_cancel_clicked(self) -> None:
        open_jobs = self._open_jobs()
        if not open_jobs:
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Cancel pipeline",
                          "Cancel the pipeline '%s' on %s? The running step stops now and the %d step(s) after it "
                          "will not run." % (self.pipeline_name, self.model.display_name, len(open_jobs) - 1),
                          QMessageBox.StandardButton.NoButton, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        stop = box.addButton("Cancel pipeline", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Keep running", QMessageBox.ButtonRole.RejectRole)

        def on_done() -> None:
            if box.clickedButton() is stop:
                self.run_status.setText("Cancelling…")
                self.runner.cancel()  # queued steps first, so none starts while the running one stops
            self.confirm_box = None

        box.finished.connect(on_done)
        self.confirm_box = box
        box.open()
