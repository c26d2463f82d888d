"""The Fleet page on real daemons: the grid fills from three robots on this machine (one on a fixture Orin NX
board) and names an unreachable one with why; it sorts and filters by text and tag; a staged rollout started
from the page reaches every robot and its record appears; a rollout cut off by closing the console is
resumed, another abandoned, from a new page."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

import console.ui.fleet.model as fleet_model
from console.cli.main import main as edgectl
from console.core.app import ConsoleCore
from console.core.env import ConsoleEnv
from console.core.fleet.records import RolloutLog
from console.core.models.packages import build_package
from console.ui.fleet.model import COL, FleetActions, FleetWatcher
from console.ui.fleet.page import FleetPage, progress_text
from console.ui.main_window import MainWindow
from console.ui.theme import Theme
from device_runtime.server.bridge import start_daemon
from device_runtime.store.config import StoreConfig, save_config
from tests.support.daemons import stop_daemon
from tests.support.lab import HOT_BOARD
from tests.support.store import make_onnx

ROBOTS = ("robot-1", "robot-2", "robot-3")
TAGS = {"robot-1": ["lab-a", "canary"], "robot-2": ["lab-a"], "robot-3": ["lab-b", "orin-nx"]}


class Lab:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.sockets = {name: base / name / "rt.sock" for name in ROBOTS}
        self.packages: dict[str, Path] = {}

    def package(self, model: str, version: str, seed: int) -> Path:
        path = self.packages.get("%s-%s" % (model, version))
        if path is None:
            path = self.base / "pkg" / ("%s-%s.tar.gz" % (model, version))
            path.parent.mkdir(exist_ok=True)
            build_package(make_onnx(self.base / "pkg" / ("%s-%d.onnx" % (model, seed)), seed), path, model, version,
                          "tests")
            self.packages["%s-%s" % (model, version)] = path
        return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """Three real daemons for the module (each test deploys a model of its own); robot-3 on a fixture Orin NX."""
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="eoc-fleet-"))
    lab = Lab(base)
    try:
        for name, socket in lab.sockets.items():
            root = base / name / "root"
            save_config(str(root), StoreConfig(policy="allow-unsigned", health_grace_s=1.0))
            start_daemon(str(socket), str(root), ["--sys-root", str(HOT_BOARD)] if name == "robot-3" else [])
        yield lab
    finally:
        for socket in lab.sockets.values():
            stop_daemon(socket)
        stop_daemon(base / "run" / "edge-runtime" / "edge-runtime.sock")
        import shutil

        shutil.rmtree(base, ignore_errors=True)


def console(lab: Lab, tmp_path: Path, ghost: bool = False) -> ConsoleCore:
    """A console of its own (config and rollout records) over the lab's robots; the local runtime is shared."""
    env = ConsoleEnv(config_dir=tmp_path / "cfg", data_dir=tmp_path / "data", runtime_dir=lab.base / "run",
                     environ={"HOME": str(tmp_path)})
    env.stdout, env.stderr = io.StringIO(), io.StringIO()
    for name, socket in lab.sockets.items():
        tags = [arg for tag in TAGS[name] for arg in ("--tag", tag)]
        assert edgectl(["devices", "add", name, "--socket", str(socket), *tags], env) == 0, env.stderr.getvalue()
    if ghost:  # a robot whose runtime is not running: its socket is not there
        assert edgectl(["devices", "add", "ghost", "--socket", str(lab.base / "ghost.sock"), "--tag", "lab-a"],
                       env) == 0, env.stderr.getvalue()
    return ConsoleCore(env)


@pytest.fixture
def page(qtbot: QtBot, lab: Lab, tmp_path: Path, qapp: QApplication) -> Iterator[FleetPage]:
    core = console(lab, tmp_path)
    shown = make_page(qtbot, core)
    yield shown
    shown.shutdown()
    core.close()


def make_page(qtbot: QtBot, core: ConsoleCore, parallel: int = 8) -> FleetPage:
    watcher = FleetWatcher(core)
    actions = FleetActions(core, RolloutLog(core.env.data_dir / "rollouts"), parallel)
    page = FleetPage(watcher, actions)
    qtbot.addWidget(page)
    page.resize(1300, 800)
    page.show()
    qtbot.waitUntil(lambda: watcher.settled() and all(r.state == "connected" for r in watcher.table.rows),
                    timeout=30_000)
    return page


def column(page: FleetPage, name: str) -> list[str]:
    return [str(page.proxy.index(r, COL[name]).data()) for r in range(page.proxy.rowCount())]


def cell(page: FleetPage, device: str, name: str) -> str:
    row = page.watcher.table.row_of(device)
    return str(page.watcher.table.index(row, COL[name]).data())


def test_the_grid_fills_sorts_filters_and_names_the_unreachable(qtbot: QtBot, lab: Lab, tmp_path: Path,
                                                                 theme: Theme) -> None:
    core = console(lab, tmp_path, ghost=True)
    window = MainWindow(core, theme, "robot-1", rate_hz=2.0)
    qtbot.addWidget(window)
    window.resize(1300, 800)
    window.show()
    try:
        qtbot.waitUntil(window.isActiveWindow, timeout=5_000)  # shortcuts reach the active window
        fleet_item = window.sidebar.list.item(0)
        assert fleet_item is window.sidebar.fleet_item and fleet_item.text().startswith("Fleet")
        qtbot.keyClick(window, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
        page = window.fleet_page
        assert page is not None and window.pages.currentWidget() is page
        watcher = page.watcher
        qtbot.waitUntil(lambda: watcher.settled() and watcher.table.get("ghost") is not None
                        and all(r.state == "connected" for r in watcher.table.rows if r.name != "ghost"),
                        timeout=30_000)
        # every device, This computer first in the registry; the ghost says why and what to do
        assert sorted(watcher.names()) == sorted(["local", "ghost", *ROBOTS])
        ghost = watcher.table.get("ghost")
        assert ghost is not None and ghost.state == "unreachable"
        assert cell(page, "ghost", "State") == "unreachable"
        assert "ghost.sock" in cell(page, "ghost", "Notes") or "No such file" in cell(page, "ghost", "Notes")
        assert cell(page, "ghost", "Notes").endswith("Check that it is on and its runtime is up; the Fleet page "
                                                     "tries again every 10 s.")
        assert page.attention.text().startswith("ghost is unreachable: ")
        assert page.attention.text().endswith("the Fleet page tries again every 10 s.")
        runtime = core.session("robot-1").runtime_version
        assert runtime and cell(page, "robot-2", "Runtime") == runtime
        caps = core.session("robot-3").capabilities
        assert caps is not None and cell(page, "robot-3", "Board") == (caps.board or caps.board_model)
        qtbot.waitUntil(lambda: cell(page, "robot-3", "Hottest").endswith(" °C"), timeout=15_000)
        assert cell(page, "robot-3", "Tags") == "lab-b, orin-nx"
        assert window.sidebar.state_text("robot-2").startswith("robot-2\nconnected")
        assert window.sidebar.state_text("ghost") == "ghost\nunreachable"

        page.grid.sortByColumn(COL["Device"], Qt.SortOrder.DescendingOrder)
        assert column(page, "Device") == ["This computer", "robot-3", "robot-2", "robot-1", "ghost"]
        page.grid.sortByColumn(COL["State"], Qt.SortOrder.AscendingOrder)
        assert column(page, "Device")[0] == "ghost"  # the unreachable first
        page.filter.setText("robot-2")
        assert column(page, "Device") == ["robot-2"]
        page.filter.setText("orin")  # the board and the tag of robot-3
        assert column(page, "Device") == ["robot-3"]
        page.filter.setText("")
        page.set_tag("lab-a", True)
        assert sorted(column(page, "Device")) == ["ghost", "robot-1", "robot-2"]
        page.set_tag("canary", True)  # every chosen tag
        assert column(page, "Device") == ["robot-1"]
        page.set_tag("lab-a", False)
        page.set_tag("canary", False)
        page.filter.setText("unreachable")
        assert column(page, "Device") == ["ghost"]
        assert page.shown.text() == "1 of 5 shown · 0 selected"
        assert not page.deploy_button.isEnabled()
        page.select_all_shown()
        assert page.selected_devices() == ["ghost"] and page.deploy_button.isEnabled()

        window.sidebar.list.setCurrentRow(2)  # a device's own pages, then back with Ctrl+0
        assert window.pages.currentWidget() is not page
        qtbot.keyClick(window, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
        assert window.pages.currentWidget() is page and window.status_label.text().startswith("Fleet · 5 devices")
    finally:
        window.close()
        core.close()


def test_a_fleet_action_is_under_way_until_the_page_has_shown_its_end(qtbot: QtBot, page: FleetPage,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The action's thread can end before the page has even said the action began (a fast health
    run on a busy machine): the page must stay busy, one fleet action at a time, until its result
    has reached the GUI thread, not only while that thread lives."""
    workers: list[threading.Thread] = []
    entered = threading.Event()

    def at_once(*_args: object, **_kwargs: object) -> list[object]:  # every check returns at once
        workers.append(threading.current_thread())
        entered.set()
        return []

    monkeypatch.setattr(fleet_model, "run_each", at_once)
    page.select(list(ROBOTS))
    page.health_button.click()
    assert entered.wait(timeout=30)
    (worker,) = workers
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert page.runner.running  # its result is queued for the GUI thread, which has run no event since
    page.select(list(ROBOTS))  # any refresh of the page meanwhile
    assert page.stage.text() == "Running the health checks on robot-1, robot-2, robot-3"
    assert not page.deploy_button.isEnabled() and not page.health_button.isEnabled()
    assert page.open_deploy() is None
    qtbot.waitUntil(lambda: page.outcome.text().startswith("Health run"), timeout=10_000)
    assert not page.runner.running and page.deploy_button.isEnabled()


def test_a_staged_rollout_from_the_page_reaches_every_robot_and_its_record_appears(
        qtbot: QtBot, page: FleetPage, lab: Lab) -> None:
    package = lab.package("detector", "1.0.0", 1)
    page.set_tag("lab-a", True)
    page.select_all_shown()
    assert page.selected_devices() == ["robot-1", "robot-2"]
    page.set_tag("lab-a", False)
    page.select(list(ROBOTS))
    with qtbot.waitSignal(page.runner.finished, timeout=60_000) as finished:
        qtbot.mouseClick(page.health_button, Qt.MouseButton.LeftButton)
        assert page.stage.text() == "Running the health checks on robot-1, robot-2, robot-3"
        assert not page.deploy_button.isEnabled()  # one fleet action at a time
    assert [o.status for o in finished.args[0].outcomes] == ["ok"] * 3
    assert page.outcome.text() == "Health run: 3 of 3 devices passed."
    assert page.devices_done.topLevelItemCount() == 3 and page.deploy_button.isEnabled()
    dialog = page.open_deploy()
    assert dialog is not None and not dialog.go.isEnabled()
    assert dialog.summary.text() == "Choose the package to deploy."
    dialog.package.setText(str(package.with_suffix(".onnx")))
    assert dialog.summary.text().startswith("A fleet deploy sends a package")
    dialog.package.setText(str(package))
    dialog.waves.setText("50%")
    assert dialog.summary.text() == ("The waves cannot be planned: the waves end at 2 of 3 devices; end them "
                                     "with 100%.") and not dialog.go.isEnabled()
    dialog.waves.setText("50%,100%")
    dialog.why.setText("first detector")
    assert dialog.summary.text().startswith(
        "Deploy detector-1.0.0.tar.gz to 3 devices? It is uploaded to all of them first (each verifies it; "
        "nothing changes yet), then activated in 3 steps: canary: robot-1; wave 2: robot-2; wave 3: robot-3.")
    assert dialog.go.text() == "Deploy to 3 devices"
    with qtbot.waitSignal(page.runner.finished, timeout=90_000) as finished:
        qtbot.mouseClick(dialog.go, Qt.MouseButton.LeftButton)
        assert page.progress.isVisible() and page.stage.text()
    result = finished.args[0]
    assert result.record is not None and not result.record.stopped, page.outcome.text()
    record = result.record
    assert page.outcome.text().startswith("Rollout %s done: 3 ok." % record.id)
    assert record.what["model"] == "detector" and record.what["version"] == "1.0.0"
    assert record.plan["planned"] == [["robot-1"], ["robot-2"], ["robot-3"]]
    assert page.devices_done.topLevelItemCount() == 6 and not page.progress.isVisible()
    assert page.progress.value() == 6 and page.progress.format() == "6 of 6 steps"
    assert progress_text(2, 6, 4.0) == "2 of 6 steps · about 8 s left"  # shown while it ran
    # the record is listed, newest first, and shown in full
    top = page.record_list.topLevelItem(0)
    assert [top.text(c) for c in (1, 2, 4, 5)] == ["deploy", "detector-1.0.0.tar.gz (detector 1.0.0)", "3 ok", "done"]
    assert page.record_list.currentItem() is top
    details = {page.detail.topLevelItem(i).text(0): page.detail.topLevelItem(i) for i in range(3)}
    assert {d: (i.text(1), i.text(2), i.text(3)) for d, i in details.items()} == {
        "robot-1": ("activate", "1", "ok"), "robot-2": ("activate", "2", "ok"), "robot-3": ("activate", "3", "ok")}
    assert details["robot-2"].text(5) == "detector 1.0.0 (committed)"
    assert [details["robot-1"].child(i).text(1) for i in range(2)] == ["upload", "activate"]
    assert not page.resume_button.isEnabled() and not page.abandon_button.isEnabled()
    # the grid reads the robots again: the new version is active everywhere
    qtbot.waitUntil(lambda: all("detector 1.0.0" in cell(page, d, "Models") for d in ROBOTS), timeout=20_000)

    # a rollback on the selection, through its dialog
    page.select(["robot-1", "robot-2"])
    back = page.open_rollback()
    assert back is not None and back.model.currentText() == "detector"
    assert back.summary.text().startswith("Roll back detector on robot-1 (1.0.0), robot-2 (1.0.0) to each one's "
                                          "previous version?")
    with qtbot.waitSignal(page.runner.finished, timeout=60_000) as finished:
        qtbot.mouseClick(back.go, Qt.MouseButton.LeftButton)
    rolled = finished.args[0].record
    assert rolled.kind == "rollback" and rolled.counts() == {"failed": 2}
    assert page.outcome.text().startswith("Rollback %s done: 2 failed. robot-1 failed: " % rolled.id)
    assert ("detector has no previous version to roll back to (active: 1.0.0); give one in To version. robot-1's "
            "Models page lists what it holds.") in page.outcome.text()
    assert "edgectl" not in page.outcome.text()  # the console's own windows, not the command line
    assert page.record_list.topLevelItem(0).text(1) == "rollback"


def test_a_rollout_cut_off_by_closing_the_console_is_resumed_and_another_abandoned(
        qtbot: QtBot, lab: Lab, tmp_path: Path, qapp: QApplication) -> None:
    core = console(lab, tmp_path)
    log = RolloutLog(core.env.data_dir / "rollouts")
    try:
        for version, seed in (("1.0.0", 2), ("1.1.0", 3)):
            page = make_page(qtbot, core, parallel=1)
            page.select(list(ROBOTS))
            page.start_deploy(_plan(page, lab.package("tracker", version, seed)))
            # the console closes as the first robot's upload is reported: the robots under way finish their
            # step, the others are not touched, and the record says so
            with qtbot.waitSignal(page.runner.deviceDone, timeout=60_000):
                pass
            page.shutdown()
            assert not page.runner.running
            page.close()
        records, problems = log.records()
        assert problems == [] and len(records) == 2 and all(r.open for r in records)
        assert all(r.stopped.startswith("interrupted during the") for r in records), [r.stopped for r in records]

        page = make_page(qtbot, core)  # the console again
        assert page.record_list.topLevelItemCount() == 2
        first, second = records
        said = page.attention.text().splitlines()  # the page says so before anything is chosen
        assert [line.split(" (deploy ")[0] for line in said] == ["Rollout %s" % r.id for r in records]
        assert all(line.endswith(") is stopped: choose it under Rollouts to resume or abandon it.") for line in said)
        page.show_record(first.id)
        assert page.abandon_button.isEnabled() and page.resume_button.isEnabled()
        assert "Resume takes it on to the devices it did not finish" in page.record_text.text()
        asked: list[str] = []
        page.confirm = lambda text: asked.append(text) or True  # type: ignore[method-assign]
        qtbot.mouseClick(page.abandon_button, Qt.MouseButton.LeftButton)
        assert asked[-1].startswith("Abandon rollout %s?" % first.id)
        assert log.load(first.id).closed == "abandoned by %s" % core.env.operator
        assert page.current_record() is not None and page.current_record().id == first.id  # type: ignore[union-attr]
        assert not page.abandon_button.isEnabled() and not page.resume_button.isEnabled()
        assert page.outcome.text() == ("Rollout %s abandoned by %s; each device keeps what it runs now."
                                       % (first.id, core.env.operator))

        page.show_record(second.id)
        with qtbot.waitSignal(page.runner.finished, timeout=90_000) as finished:
            qtbot.mouseClick(page.resume_button, Qt.MouseButton.LeftButton)
        assert asked[-1].startswith("Resume rollout %s on " % second.id)
        resumed = finished.args[0].record
        assert resumed is not None and not resumed.stopped and resumed.counts() == {"ok": len(resumed.devices)}
        assert log.load(second.id).closed == "resumed by %s" % resumed.id
        assert page.current_record() is not None and page.current_record().id == resumed.id  # type: ignore[union-attr]
        qtbot.waitUntil(lambda: all("tracker 1.1.0" in cell(page, d, "Models") for d in ROBOTS), timeout=20_000)
        page.shutdown()
    finally:
        core.close()


def _plan(page: FleetPage, package: Path) -> object:
    dialog = page.open_deploy()
    assert dialog is not None
    dialog.package.setText(str(package))
    assert dialog.plan is not None
    dialog.reject()
    return dialog.plan
