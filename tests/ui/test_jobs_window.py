"""Jobs through the main window against the real local runtime: page order and shortcuts, and
every job started from edgectl shows in the GUI's Jobs page and vice versa."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QTabWidget
from pytestqt.qtbot import QtBot

from console.cli.main import main as edgectl
from console.core.app import ConsoleCore
from console.core.devices.session import State
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from console.ui.jobs.page import JobsPage
from console.ui.main_window import MainWindow
from console.ui.optimize.benchmarks_page import BenchmarksPage
from console.ui.theme import Theme
from device_runtime.demo_model import build_demo_model
from device_runtime.protocol import BenchmarkSpec, JobInfo, ValidateSpec

pytestmark = pytest.mark.gui


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    import onnx

    path = tmp_path / "detector.onnx"
    onnx.save(build_demo_model(), str(path))
    return path


@pytest.fixture
def window(qtbot: QtBot, core: ConsoleCore, theme: Theme) -> Iterator[MainWindow]:
    win = MainWindow(core, theme, "local", rate_hz=5.0, page="jobs")
    qtbot.addWidget(win)
    win.resize(1300, 850)
    win.show()
    jobs = win.jobs_models["local"]
    qtbot.waitUntil(lambda: jobs.tracker.attached, timeout=30_000)
    yield win
    win.close()


def _edgectl(env: ConsoleEnv, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    env.stdout, env.stderr = out, io.StringIO()
    code = edgectl(list(argv), env)
    return code, out.getvalue()


def _tabs(window: MainWindow) -> QTabWidget:
    tabs = window.pages.currentWidget()
    assert isinstance(tabs, QTabWidget)
    return tabs


def test_pages_in_order_with_shortcuts(qtbot: QtBot, window: MainWindow) -> None:
    tabs = _tabs(window)
    titles = [tabs.tabText(i) for i in range(tabs.count())]
    assert titles == ["Dashboard", "Models", "Optimize", "Jobs", "Benchmarks", "Health"]  # the tab order
    assert isinstance(tabs.currentWidget(), JobsPage)  # --page jobs
    for number, kind in ((5, BenchmarksPage), (4, JobsPage)):
        qtbot.keyClick(window, getattr(Qt.Key, "Key_%d" % number), Qt.KeyboardModifier.ControlModifier)
        assert isinstance(tabs.currentWidget(), kind)
    qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert tabs.currentWidget() is window.page("optimize")
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert tabs.currentWidget() is window.dashboard()


def test_cli_jobs_show_in_the_gui_and_gui_jobs_in_the_cli(qtbot: QtBot, window: MainWindow, ui_env: ConsoleEnv,
                                                         model_file: Path) -> None:
    page = window.page("jobs")
    assert isinstance(page, JobsPage)
    jobs = window.jobs_models["local"]
    code, out = _edgectl(ui_env, "validate", str(model_file), "--detach", "--label", "from the command line")
    assert code == ExitCode.OK
    cli_job = out.strip()
    qtbot.waitUntil(lambda: page.table_model.row_of(cli_job) >= 0, timeout=20_000)
    qtbot.waitUntil(lambda: (jobs.tracker.job(cli_job) or JobInfo("", "", "", {})).state == "succeeded",
                    timeout=60_000)
    row = page.table_model.row_of(cli_job)
    assert page.table_model.data(page.table_model.index(row, 0)) == "from the command line"

    with qtbot.waitSignal(jobs.submitted, timeout=20_000) as submitted:
        jobs.submit("validate", ValidateSpec(str(model_file)), "from the window")
    gui_job = submitted.args[1][0]
    code, out = _edgectl(ui_env, "jobs", "--json")
    listed = {j["id"]: j["label"] for j in json.loads(out)}
    assert listed[gui_job] == "from the window" and listed[cli_job] == "from the command line"
    code, out = _edgectl(ui_env, "job", "wait", gui_job)
    assert code == ExitCode.OK and out.startswith("detector.onnx: valid")


def test_cancel_from_the_gui_stops_the_job_on_the_device(qtbot: QtBot, window: MainWindow, ui_env: ConsoleEnv,
                                                          model_file: Path) -> None:
    page = window.page("jobs")
    assert isinstance(page, JobsPage)
    jobs = window.jobs_models["local"]
    with qtbot.waitSignal(jobs.submitted, timeout=20_000) as submitted:
        jobs.submit("benchmark", BenchmarkSpec(str(model_file), shapes={"image": [1, 3, 64, 64]}, seconds=60.0),
                    "long benchmark")
    job_id = submitted.args[1][0]
    qtbot.waitUntil(lambda: (jobs.tracker.job(job_id) or JobInfo("", "", "", {})).state == "running",
                    timeout=30_000)
    page.select_job(job_id)
    qtbot.waitUntil(page.cancel_button.isEnabled, timeout=5_000)
    page.cancel_button.click()
    box = page.confirm_box
    assert box is not None and "Cancel benchmark 'long benchmark' (%s) on This computer?" % job_id in box.text()
    next(b for b in box.buttons() if box.buttonRole(b) == QMessageBox.ButtonRole.DestructiveRole).click()
    qtbot.waitUntil(lambda: (jobs.tracker.job(job_id) or JobInfo("", "", "", {})).state == "cancelled",
                    timeout=30_000)
    _, out = _edgectl(ui_env, "job", "show", job_id, "--json")
    assert JobInfo.from_wire(json.loads(out)).state == "cancelled"
    assert window.model() is not None and window.model().state is State.CONNECTED  # type: ignore[union-attr]
