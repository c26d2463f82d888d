"""The Jobs page fed with job records: state words and colours, progress, details, log, cancel."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from console.ui.devices.qt_session import QtSession
from console.ui.jobs.page import JobsPage
from console.ui.jobs.qt_jobs import QtJobs
from console.ui.jobs.table import COLUMNS, STATE_COLORS
from device_runtime.protocol import TOPIC_JOB, TOPIC_JOB_LOG, Event, JobInfo, JobLog

pytestmark = pytest.mark.gui

EVIL = "<b>bold</b><img src=x>"


@pytest.fixture
def jobs(local_model: QtSession) -> Iterator[QtJobs]:
    model = QtJobs(local_model)
    yield model
    model.close()


def _push(jobs: QtJobs, info: JobInfo) -> None:
    jobs.tracker.handle_event(Event(TOPIC_JOB, info.to_wire()))


def _job(job_id: str, state: str, created: float, **extra: object) -> JobInfo:
    return JobInfo(id=job_id, kind="build", state=state, spec={"model": "/m/detector.onnx"}, created=created,
                   **extra)  # type: ignore[arg-type]


def _cell(page: JobsPage, row: int, column: str, role: int = Qt.ItemDataRole.DisplayRole) -> object:
    return page.table_model.data(page.table_model.index(row, COLUMNS.index(column)), role)


def test_jobs_show_state_words_colours_and_progress(qtbot: QtBot, jobs: QtJobs) -> None:
    page = JobsPage(jobs)
    qtbot.addWidget(page)
    _push(jobs, _job("old", "failed", 10.0, error="the ONNX parser failed: see the log", started=11.0, finished=14.0))
    _push(jobs, _job("new", "running", 20.0, label="detector fp16", progress=0.42, stage="tactic timing",
                     eta_s=75.0, started=21.0))
    assert page.row_count() == 2
    assert _cell(page, 0, "Job") == "detector fp16"  # newest first
    assert _cell(page, 0, "State") == "◐ running"
    assert _cell(page, 0, "Progress") == "42% · tactic timing"
    assert _cell(page, 0, "Time") == "1m15s left"
    assert _cell(page, 1, "Job") == "build · detector.onnx"
    assert _cell(page, 1, "State") == "✕ failed"
    assert _cell(page, 1, "Time") == "took 3.0s"
    colour = _cell(page, 1, "State", Qt.ItemDataRole.ForegroundRole)
    assert isinstance(colour, QColor) and colour.name() == STATE_COLORS["failed"]
    assert _cell(page, 1, "ID", Qt.ItemDataRole.ToolTipRole) == "the ONNX parser failed: see the log"
    _push(jobs, _job("new", "running", 20.0, label="detector fp16", progress=0.9, stage="writing engine"))
    assert _cell(page, 0, "Progress") == "90% · writing engine" and page.row_count() == 2


def test_details_log_and_cancel_confirmation(qtbot: QtBot, jobs: QtJobs) -> None:
    page = JobsPage(jobs)
    qtbot.addWidget(page)
    _push(jobs, _job("j1", "running", 20.0, label=EVIL, progress=0.3, stage="parsing"))
    jobs.tracker.handle_event(Event(TOPIC_JOB_LOG, JobLog("j1", 0, ["[I] parsing " + EVIL, "[I] layer 1"]).to_wire()))
    page.select_job("j1")
    assert page.selected == "j1"
    assert "state            running" in page.details.text() and EVIL in page.details.text()
    assert page.details.textFormat() == Qt.TextFormat.PlainText
    assert page.log.toPlainText() == "[I] parsing %s\n[I] layer 1" % EVIL
    jobs.tracker.handle_event(Event(TOPIC_JOB_LOG, JobLog("j1", 1, ["[I] layer 1", "[I] layer 2"]).to_wire()))
    assert page.log.toPlainText().splitlines()[-2:] == ["[I] layer 1", "[I] layer 2"]  # no line twice
    assert page.cancel_button.isEnabled()

    page.cancel_button.click()
    box = page.confirm_box
    assert box is not None and box.textFormat() == Qt.TextFormat.PlainText
    assert box.text() == "Cancel build '%s' (j1) on This computer? It stops now and writes no output." % EVIL
    keep = next(b for b in box.buttons() if b.text() == "Keep running")
    keep.click()
    assert page.confirm_box is None and page.notice.text() == ""

    page.cancel_button.click()
    box = page.confirm_box
    assert box is not None
    stop = next(b for b in box.buttons() if box.buttonRole(b) == QMessageBox.ButtonRole.DestructiveRole)
    # Selecting the job also asked for its log on the worker thread; that failure ("Reading the
    # log failed") can arrive after this point on a busy machine: wait for the cancel's own.
    with qtbot.waitSignal(jobs.failed, timeout=10_000,
                          check_params_cb=lambda text: text.startswith("Cancelling")) as failed:
        stop.click()
    # The device is not connected in this test: the sentence says so, without a traceback.
    assert failed.args == ["Cancelling failed: local is not connected."]
    qtbot.waitUntil(lambda: page.notice.text() == "Cancelling failed: local is not connected.", timeout=5_000)

    _push(jobs, _job("j1", "cancelled", 20.0, label=EVIL, progress=0.3))
    assert not page.cancel_button.isEnabled()
