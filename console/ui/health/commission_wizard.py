"""The commissioning wizard (Commission… on the Health page): the robot's serial number, the
model, golden data and load time, then the checklist running live, step by step, with pass or
fail and the reason; the report is saved as JSON, printable HTML and PDF per serial number.

The run happens on its own thread (it holds the device for minutes); each step change arrives
as a signal. Cancel stops the running job and skips the rest; the report says so.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from console.core.commissioning.checklist import (
    DEFAULT_LOAD_S,
    FAIL,
    MAX_LOAD_S,
    MIN_LOAD_S,
    PASS,
    RUNNING,
    STATUS_WORDS,
    STEPS,
    CommissionError,
    CommissionOptions,
    CommissionReport,
    StepResult,
)
from console.core.env import ConsoleEnv
from console.ui.charts.chart import plain_label
from console.ui.health.commission_runner import CommissionRunner, write_pdf
from console.ui.health.qt_health import HEALTH_COLORS, QtHealth, plain_tooltip
from device_runtime.protocol import StoreModel

STEP_COLORS = {PASS: HEALTH_COLORS["healthy"], FAIL: HEALTH_COLORS["unhealthy"], RUNNING: "#2f6fd0"}


class CommissionWizard(QDialog):
    def __init__(self, health: QtHealth, env: ConsoleEnv, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.health = health
        self.env = env
        self.models: dict[str, StoreModel] = {}
        self.refusals: dict[str, str] = {}  # model -> why the drill will not switch (its previous was rolled back)
        self.report: CommissionReport | None = None
        self.paths: list[Path] = []
        name = health.model.display_name
        self.setWindowTitle("Commission — %s" % name)
        self.setMinimumSize(820, 620)
        caps = health.model.capabilities
        self.serial = QLineEdit(caps.serial if caps is not None and caps.serial else "")
        self.serial.setPlaceholderText("the robot's serial number, e.g. from its label")
        self.model_box = QComboBox()
        self.model_box.addItem("reading the device's models…")
        self.golden = QLineEdit()
        self.golden.setPlaceholderText("optional: folder with NAME.npz inputs and NAME.expected.npz outputs")
        self.load = QSpinBox()
        self.load.setRange(int(MIN_LOAD_S), int(MAX_LOAD_S))
        self.load.setValue(int(DEFAULT_LOAD_S))
        self.load.setSuffix(" s")
        self.out_dir = QLineEdit(str(env.home / "commissioning-reports"))
        self.drill = QCheckBox("Rollback drill")
        self.drill.setChecked(True)
        form = QFormLayout()
        form.addRow("Serial number", self.serial)
        form.addRow("Model", self.model_box)
        form.addRow("Golden data", self._with_browse(self.golden))
        form.addRow("Thermal load", self.load)
        form.addRow("Reports folder", self._with_browse(self.out_dir))
        form.addRow("", self.drill)
        for widget in (self.serial, self.model_box, self.golden, self.load, self.out_dir):
            widget.setMinimumHeight(32)
        self.error = plain_label("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c0392b;")
        self.error.setVisible(False)
        self.steps = QTreeWidget()
        self.steps.setHeaderLabels(["Step", "Result", "Reason"])
        self.steps.setAccessibleName("Commissioning steps")
        self.steps.setWordWrap(True)
        self.steps.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.steps.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.items: dict[str, QTreeWidgetItem] = {}
        for key, title in STEPS:
            item = QTreeWidgetItem([title, STATUS_WORDS["waiting"], ""])
            self.items[key] = item
            self.steps.addTopLevelItem(item)
        self.progress = QProgressBar()
        self.progress.setRange(0, len(STEPS))
        self.progress.setFormat("%v of %m steps")
        self.outcome = plain_label("")
        self.outcome.setWordWrap(True)
        self.outcome.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.start_button = QPushButton("Start")
        self.start_button.setMinimumHeight(32)
        self.start_button.clicked.connect(self.start)
        self.close_button = QPushButton("Close")
        self.close_button.setMinimumHeight(32)
        self.close_button.clicked.connect(self._on_close_clicked)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.steps, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.outcome)
        layout.addLayout(buttons)
        self.runner = CommissionRunner(health, env, self)
        self.runner.stepChanged.connect(self._on_step)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.modelsLoaded.connect(self._on_models)
        self.model_box.currentIndexChanged.connect(self._update_drill_text)
        self.running = False
        self.runner.load_models()

    def _with_browse(self, edit: QLineEdit) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        button = QPushButton("Browse…")
        button.setMinimumHeight(32)
        button.clicked.connect(lambda: self._browse(edit))
        row.addWidget(edit, 1)
        row.addWidget(button)
        return box

    def _browse(self, edit: QLineEdit) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Choose a folder", edit.text() or str(self.env.home))
        if chosen:
            edit.setText(chosen)

    def _on_models(self, models: list[StoreModel], refusals: dict[str, str]) -> None:
        self.models = {m.name: m for m in models}
        self.refusals = dict(refusals)
        self.model_box.clear()
        if not models:
            self.model_box.addItem("no model deployed", None)
        for m in sorted(models, key=lambda m: m.name):
            self.model_box.addItem("%s (active %s)" % (m.name, m.active or "none"), m.name)
        self._update_drill_text()

    def chosen_model(self) -> StoreModel | None:
        name = self.model_box.currentData()
        return self.models.get(name) if isinstance(name, str) else None

    def drill_question(self) -> str | None:
        """What the drill will do, in words, or None when it has nothing to do."""
        m = self.chosen_model()
        if m is None or m.active is None or m.previous is None or m.name in self.refusals:
            return None
        return "Roll %s back from %s to %s on %s, then return to %s?" % (
            m.name, m.active, m.previous, self.health.model.display_name, m.active)

    def _update_drill_text(self) -> None:
        question = self.drill_question()
        m = self.chosen_model()
        refusal = self.refusals.get(m.name) if m is not None else None
        skipped = "skipped (%s)" % (refusal or "the model has no previous version")
        self.drill.setText("Rollback drill: %s" % (question.rstrip("?") if question else skipped))
        self.drill.setToolTip(plain_tooltip(self.drill.text()))

    def confirm(self, text: str) -> bool:
        answer = QMessageBox.question(self, "Rollback drill", text)
        return answer == QMessageBox.StandardButton.Yes

    # -- run ---------------------------------------------------------------------------------
    def options(self) -> CommissionOptions:
        """The form as options; raises :class:`CommissionError` saying what to fix."""
        problems = []
        serial = self.serial.text().strip()
        if not serial:
            problems.append("Give the robot's serial number (the device reports none).")
        golden = Path(self.golden.text().strip()).expanduser() if self.golden.text().strip() else None
        if golden is not None and not golden.is_dir():
            problems.append("The golden data folder %s does not exist." % golden)
        if not self.out_dir.text().strip():
            problems.append("Choose a folder for the reports.")
        if problems:
            raise CommissionError(" ".join(problems))
        chosen = self.chosen_model()
        return CommissionOptions(serial=serial, golden=golden, load_seconds=float(self.load.value()),
                                 model=chosen.name if chosen is not None else None,
                                 rollback_drill=self.drill.isChecked())

    def start(self) -> None:
        try:
            options = self.options()
        except CommissionError as exc:
            self._show_error(str(exc))
            return
        question = self.drill_question() if options.rollback_drill else None
        if question is not None and not self.confirm(question):
            return
        self._show_error("")
        for key, title in STEPS:
            item = self.items[key]
            item.takeChildren()
            for column, text in enumerate((title, STATUS_WORDS["waiting"], "")):
                item.setText(column, text)
        self.progress.setValue(0)
        self.outcome.setText("Commissioning robot %s…" % options.serial)
        self.running = True
        self.start_button.setEnabled(False)
        self.close_button.setText("Cancel")
        self.runner.start(options, Path(self.out_dir.text().strip()).expanduser())

    def _on_close_clicked(self) -> None:
        if self.running:
            self.outcome.setText("Cancelling: the running step stops, the rest is skipped…")
            self.close_button.setEnabled(False)
            self.runner.cancel()
        else:
            self.accept()

    def _on_step(self, step: StepResult) -> None:
        item = self.items[step.key]
        word = STATUS_WORDS.get(step.status, step.status)
        item.setText(1, word + ("…" if step.status == RUNNING else ""))
        item.setText(2, step.progress if step.status == RUNNING else step.reason)
        item.setToolTip(2, plain_tooltip(item.text(2)))
        item.setForeground(1, QColor(STEP_COLORS.get(step.status, HEALTH_COLORS["unknown"])))
        font = QFont(item.font(1))
        font.setBold(step.done)
        item.setFont(1, font)
        if step.done:
            item.takeChildren()
            for detail in step.details:
                child = QTreeWidgetItem(["", "", detail])
                child.setToolTip(2, plain_tooltip(detail))
                item.addChild(child)
            self.progress.setValue(sum(1 for key, _ in STEPS if self.items[key].text(1) in (
                STATUS_WORDS[PASS], STATUS_WORDS[FAIL], STATUS_WORDS["skip"])))

    def _on_finished(self, report: CommissionReport, paths: list[Path]) -> None:
        self.report = report
        self.paths = list(paths)
        try:
            self.paths.append(write_pdf(report, paths[1].with_suffix(".pdf")))
        except OSError as exc:
            self._show_error("The PDF could not be written: %s." % exc)
        self.health.set_commissioning(report)
        self._done("Robot %s: %s. %s.\nReport saved:\n%s" % (
            report.serial, report.overall.upper(), report.end_state.rstrip(".") or "Its state could not be read",
            "\n".join(str(p) for p in self.paths)))

    def _on_failed(self, message: str) -> None:
        self._show_error(message)
        self._done("")

    def _done(self, text: str) -> None:
        self.running = False
        self.outcome.setText(text)
        self.start_button.setEnabled(True)
        self.start_button.setText("Run again")
        self.close_button.setEnabled(True)
        self.close_button.setText("Close")

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def reject(self) -> None:
        if self.running:  # Esc while running cancels the run, never leaves it behind
            self._on_close_clicked()
            return
        super().reject()
