"""The Deploy wizard: pick a package or an ONNX model, confirm once, then watch it upload, verify,
load, switch in and pass (or fail) the health check, with the result in words.

An ONNX model is packaged on the way (name and version asked here, next patch version offered).
A refusal says what happened and what to do; the device's own text is behind Details. All the
work runs on the models model's worker; the dialog only listens.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from console.core.devices.keys import KeyStore
from console.core.jobs.specs import SpecError, parse_shapes
from console.core.models.deploy import (
    DeployPreview,
    DeploySourceError,
    PackageBuild,
    build_problem,
    check_source,
    is_onnx,
    preview_onnx,
    preview_package,
)
from console.core.models.tracker import Refusal, default_model_name, explain_action, next_version, succeeded
from console.core.text_units import size as size_text
from console.ui.charts.chart import plain_label
from console.ui.models.qt_models import OnnxBuild, QtModels
from console.ui.models.rollback_dialog import RefusalView, big_button, coloured
from device_runtime.package_format.errors import Code
from device_runtime.protocol import StoreAction

UNSIGNED = "Unsigned"


class DeployWizard(QDialog):
    def __init__(self, models: QtModels, keys_dir: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.models = models
        self.keys_dir = keys_dir
        self.path: Path | None = None
        self.target: tuple[str, str] | None = None  # name, version the package will become
        self.tag: str | None = None
        self.final: StoreAction | None = None
        self.refusal: Refusal | None = None
        self.confirm_box: QMessageBox | None = None
        self.stages: list[str] = []
        self.resumable: Path | None = None  # the package a stopped upload can go on with
        self.resumed_from = 0  # bytes the device already held when the upload (re)started
        self.package_preview: DeployPreview | None = None  # the package file picked, as read
        self.trusted: list[str] | None = None  # the key ids the device trusts, once it said
        self.setWindowTitle("Deploy to %s" % models.display_name)
        self.setMinimumWidth(620)
        self.steps = QStackedWidget()
        self.steps.addWidget(self._choose_step())
        self.steps.addWidget(self._progress_step())
        layout = QVBoxLayout(self)
        layout.addWidget(self.steps)

    # -- signing -----------------------------------------------------------------------------
    def _on_key_chosen(self, _index: int) -> None:
        self._key_chosen = True

    def _on_trusted_keys(self, key_ids: list[str]) -> None:
        """Sign with a key the device trusts by default: a device that trusts any key refuses an
        unsigned package, so "Unsigned" would only fail after the upload."""
        self.trusted = list(key_ids)
        if self._key_chosen or self.key_combo.currentText() != UNSIGNED:
            return
        for index in range(1, self.key_combo.count()):
            if self.key_combo.itemData(index) in key_ids:
                self.key_combo.setCurrentIndex(index)
                return

    # -- step 1: what to deploy --------------------------------------------------------------
    def _choose_step(self) -> QWidget:
        page = QWidget()
        self.file_edit = QLineEdit()
        self.file_edit.setPlaceholderText("A .tar.gz package or an .onnx model")
        self.file_edit.setMinimumHeight(32)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.setMinimumHeight(32)
        self.about = plain_label()
        self.about.setWordWrap(True)
        self.name_edit = QLineEdit()
        self.version_edit = QLineEdit()
        self.key_combo = QComboBox()
        self.key_combo.addItem(UNSIGNED)
        for key in KeyStore(self.keys_dir).list() if self.keys_dir is not None else []:
            if key.private_path is not None:
                self.key_combo.addItem(key.name, key.key_id)
        self._key_chosen = False  # once the operator picks a key, the device's trust no longer picks one
        self.key_combo.activated.connect(self._on_key_chosen)
        self.models.trustedKeys.connect(self._on_trusted_keys)
        self.models.load_trusted_keys()  # to offer a trusted key, and to say whether a package's signer is one
        self.shape_edit = QLineEdit()
        self.shape_edit.setPlaceholderText("for dynamic inputs, e.g. images:1x3x640x640 state:2x1x128")
        self.sample_edit = QLineEdit()
        self.sample_edit.setPlaceholderText("optional: a .npz of real inputs (numpy.savez), kept in the package")
        self.onnx_form = QWidget()
        form = QFormLayout(self.onnx_form)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Model name", self.name_edit)
        form.addRow("Version", self.version_edit)
        form.addRow("Sign with", self.key_combo)
        form.addRow("Warm-up sizes (--shape)", self.shape_edit)
        form.addRow("Warm-up sample (--sample)", self.sample_edit)
        self.onnx_form.setVisible(False)
        self.why_edit = QLineEdit()
        self.why_edit.setPlaceholderText("Reason (optional, kept in the device's history)")
        self.problem = plain_label()
        self.problem.setWordWrap(True)
        coloured(self.problem, "bad")
        self.deploy_button = big_button("Deploy…", 40, 11)
        self.deploy_button.setEnabled(False)
        cancel = big_button("Cancel", 40, 11)
        row = QHBoxLayout()
        row.addWidget(self.file_edit, 1)
        row.addWidget(self.browse_button)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(cancel)
        buttons.addWidget(self.deploy_button)
        layout = QVBoxLayout(page)
        layout.addWidget(plain_label("Pick a model package (.tar.gz) or an ONNX model (.onnx)."))
        layout.addLayout(row)
        for widget in (self.about, self.onnx_form, self.why_edit, self.problem):
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.browse_button.clicked.connect(self._on_browse)
        self.file_edit.editingFinished.connect(lambda: self.set_file(Path(self.file_edit.text().strip())))
        self.name_edit.textChanged.connect(self._check_onnx)
        self.version_edit.textChanged.connect(self._check_onnx)
        self.shape_edit.textChanged.connect(self._check_onnx)
        self.sample_edit.textChanged.connect(self._check_onnx)
        self.deploy_button.clicked.connect(self.ask)
        cancel.clicked.connect(self.reject)
        return page

    def set_file(self, path: Path) -> None:
        """Read what the file will become on the device; the Deploy button waits for a valid one."""
        self.path, self.target, self.package_preview = path, None, None
        self.file_edit.setText(str(path))
        self.problem.setText("")
        self.onnx_form.setVisible(False)
        try:
            check_source(path)
            if is_onnx(path):
                self.onnx_form.setVisible(True)
                self.about.setText(DeployPreview.onnx_about(path.stat().st_size))
                name = default_model_name(path)
                entry = self.models.tracker.entry(name)
                self.name_edit.setText(name)
                self.version_edit.setText(next_version(entry.versions if entry else None))
                self._check_onnx()
                return
            preview = preview_package(path)
        except DeploySourceError as exc:
            self._invalid(str(exc))
            return
        self.package_preview = preview
        self.target = (preview.name, preview.version)
        self.about.setText(preview.about())
        self.deploy_button.setEnabled(True)

    def _invalid(self, text: str) -> None:
        self.about.setText("")
        self.problem.setText(text)
        self.deploy_button.setEnabled(False)

    def _check_onnx(self) -> None:
        if self.path is None or not is_onnx(self.path):
            return
        name, version = self.name_edit.text().strip(), self.version_edit.text().strip()
        entry = self.models.tracker.entry(name)
        device = self.models.display_name
        problem = (build_problem(name, version, None, device) or self._warmup_problem()
                   or build_problem(name, version, entry.versions if entry else None, device))
        self.problem.setText(problem)
        self.target = None if problem else (name, version)
        self.deploy_button.setEnabled(not problem)

    def warmup(self) -> tuple[dict[str, list[int]], Path | None]:
        """The warm-up's sizes and sample as typed (raises SpecError on a malformed size)."""
        shapes = parse_shapes(self.shape_edit.text().replace(",", " ").split())
        sample = self.sample_edit.text().strip()
        return shapes, Path(sample) if sample else None

    def _warmup_problem(self) -> str:
        try:
            _shapes, sample = self.warmup()
        except SpecError as exc:
            return "Warm-up sizes: %s." % str(exc).replace("--shape", "size")
        if sample is not None and not sample.is_file():
            return "Warm-up sample: %s is not a file." % sample
        return ""

    def _on_browse(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(self, "Model to deploy", str(self.path.parent) if self.path else "",
                                                "Models (*.tar.gz *.tgz *.onnx);;All files (*)")
        if chosen:
            self.set_file(Path(chosen))

    def preview(self) -> DeployPreview:
        """What the deploy will put on the device, with the device's side as this console knows it."""
        assert self.target is not None and self.path is not None
        name, version = self.target
        entry = self.models.tracker.entry(name)
        versions = entry.versions if entry else None
        if self.package_preview is not None:
            return preview_package(self.path, versions, self.trusted)
        key = self.key_combo.currentText()
        signer = None if key == UNSIGNED else self.key_combo.currentData()
        return preview_onnx(self.path, PackageBuild(name, version, ""), versions, self.trusted, signer=signer)

    def question(self) -> str:
        return self.preview().question(self.models.display_name)

    def ask(self) -> None:
        """Ask once, in words that name the model, the version and the device."""
        if self.target is None or self.path is None:
            return
        preview = self.preview()
        box = QMessageBox(QMessageBox.Icon.Question, "Deploy", preview.question(self.models.display_name),
                          QMessageBox.StandardButton.NoButton, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setInformativeText("\n".join(["%s, %s." % (size_text(preview.size_bytes), preview.trust_text()),
                                          *preview.tensors_text()]))
        go = box.addButton("Deploy", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Cancel", QMessageBox.ButtonRole.RejectRole)

        def on_done() -> None:
            self.confirm_box = None
            if box.clickedButton() is go:
                self.start()

        box.finished.connect(on_done)
        self.confirm_box = box
        box.open()

    # -- step 2: watching it -----------------------------------------------------------------
    def _progress_step(self) -> QWidget:
        page = QWidget()
        self.heading = plain_label()
        self.heading.setObjectName("GroupHeader")
        self.upload_bar = QProgressBar()
        self.upload_bar.setRange(0, 100)
        self.upload_label = plain_label()
        self.stage_list = plain_label()
        self.stage_list.setWordWrap(True)
        self.action_bar = QProgressBar()
        self.action_bar.setRange(0, 100)
        self.outcome = plain_label()
        self.outcome.setWordWrap(True)
        self.refusal_view = RefusalView()
        self.refusal_view.setVisible(False)
        self.stop_button = big_button("Stop upload", 40, 11)
        self.resume_button = big_button("Resume upload", 40, 11)
        self.resume_button.setVisible(False)
        self.override_button = big_button("Activate anyway (recorded as an override)", 40, 11)
        self.override_button.setVisible(False)
        self.close_button = big_button("Close", 40, 11)
        self.close_button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.resume_button)
        buttons.addWidget(self.override_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(page)
        for widget in (self.heading, self.upload_label, self.upload_bar, self.stage_list, self.action_bar,
                       self.outcome, self.refusal_view):
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self.stop_button.clicked.connect(self._on_stop)
        self.resume_button.clicked.connect(self.resume)
        self.override_button.clicked.connect(self.override)
        self.close_button.clicked.connect(self.accept)
        return page

    def start(self) -> None:
        assert self.path is not None and self.target is not None
        name, version = self.target
        build = None
        if is_onnx(self.path):
            key = self.key_combo.currentText()
            shapes, sample = self.warmup()
            build = OnnxBuild(name, version, None if key == UNSIGNED else key, shapes, sample)
        self.heading.setText("Deploying %s %s to %s" % (name, version, self.models.display_name))
        self.steps.setCurrentIndex(1)
        self.models.uploadStarted.connect(self._on_upload_started)
        self.models.uploadProgress.connect(self._on_upload)
        self.models.stageChanged.connect(self._on_stage)
        self.models.packaged.connect(self._on_packaged)
        self.models.actionProgress.connect(self._on_progress)
        self.models.finished.connect(self._on_finished)
        self.models.refused.connect(self._on_refused)
        self.resumable = None if build is not None else self.path
        self.tag = self.models.deploy(self.path, build, self.why_edit.text().strip())

    def resume(self) -> None:
        """Send the same package again: the device continues from the bytes it already holds."""
        if self.resumable is None or not self.resumable.is_file():
            return
        self.refusal = None
        self.refusal_view.setVisible(False)
        self.resume_button.setVisible(False)
        self.stop_button.setVisible(True)
        self.stop_button.setEnabled(True)
        self.close_button.setEnabled(False)
        self.tag = self.models.deploy(self.resumable, None, self.why_edit.text().strip())

    def override(self) -> None:
        """The robot held its swap lock through the wait; the version is stored: activate it past the lock."""
        action = self.final
        if action is None or action.name is None or action.version is None:
            return
        self.final = self.refusal = None
        self.refusal_view.setVisible(False)
        self.override_button.setVisible(False)
        self.close_button.setEnabled(False)
        self.tag = self.models.activate(action.name, action.version, self.why_edit.text().strip(), force=True)

    def _on_packaged(self, tag: str, path: str) -> None:
        if tag == self.tag:
            self.resumable = Path(path)

    @property
    def running(self) -> bool:
        return self.tag is not None and not self.close_button.isEnabled()

    def _add_stage(self, stage: str) -> None:
        if stage and (not self.stages or self.stages[-1] != stage):
            self.stages.append(stage)
        self._show_stages("◐")

    def _show_stages(self, last: str) -> None:
        marks = ["✓ %s" % s for s in self.stages[:-1]] + (["%s %s" % (last, self.stages[-1])] if self.stages else [])
        self.stage_list.setText("\n".join(marks))

    def _on_stage(self, tag: str, stage: str) -> None:
        if tag == self.tag:
            self._add_stage(stage)

    def _on_upload_started(self, tag: str, offset: int, total: int) -> None:
        if tag == self.tag:
            self.resumed_from = offset
            self._on_upload(tag, offset, total)

    def _on_upload(self, tag: str, done: int, total: int) -> None:
        if tag != self.tag:
            return
        self.upload_bar.setValue(round(100 * done / max(total, 1)))
        self.upload_label.setText("Uploaded %s of %s%s" % (size_text(done), size_text(total), (
            " (resumed at %s)" % size_text(self.resumed_from)) if self.resumed_from else ""))
        if done >= total:
            self.stop_button.setEnabled(False)

    def _on_progress(self, tag: str, action: StoreAction) -> None:
        if tag != self.tag:
            return
        self.stop_button.setEnabled(False)
        self.action_bar.setValue(round(action.progress * 100))
        self._add_stage(action.stage)

    def _on_finished(self, tag: str, action: StoreAction) -> None:
        if tag != self.tag:
            return
        self.final = action
        if succeeded(action):
            self.action_bar.setValue(100)
            self._show_stages("✓")
            self.outcome.setText("\n".join(["Done: %s." % action.message.rstrip("."), *action.notes]))
            coloured(self.outcome, "ok", bold=True)
        else:
            self._show_stages("✕")
            self.refusal = explain_action(action, self.models.session_model.name)
            self.refusal_view.show_refusal(self.refusal)
            self.override_button.setVisible(action.code == Code.INHIBITED)
        self._end()

    def _on_refused(self, tag: str, refusal: Refusal) -> None:
        if tag != self.tag:
            return
        self._show_stages("✕")
        self.refusal = refusal
        self.refusal_view.show_refusal(refusal)
        self._end()
        # It never reached the device's import (stopped, or the link dropped): offer to go on.
        self.resume_button.setVisible(self.resumable is not None and self.upload_bar.value() < 100)

    def _end(self) -> None:
        self.stop_button.setVisible(False)
        self.close_button.setEnabled(True)
        self.close_button.setFocus()

    def _on_stop(self) -> None:
        if self.tag is not None:
            self.stop_button.setEnabled(False)
            self.models.cancel_upload(self.tag)

    def reject(self) -> None:
        if self.running:
            return  # the device is working on it: wait for the result (the upload can be stopped)
        super().reject()
