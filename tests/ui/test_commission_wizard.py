"""The commissioning wizard over the real local runtime: two deployed versions of a real ONNX
model, golden cases, a live step list, the rollback drill's question in words, cancelling, and
the JSON, HTML and PDF report per serial number."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from pytestqt.qtbot import QtBot

from console.core.app import ConsoleCore
from console.core.commissioning import model_steps as commissioning_model_steps
from console.core.commissioning.checklist import CANCELLED, STATUS_WORDS
from console.core.devices.client import DeviceError
from console.core.devices.session import State
from console.core.models.store_client import StoreClient
from console.ui.devices.qt_session import QtSession
from console.ui.devices.sidebar import DeviceSidebar
from console.ui.health.commission_wizard import CommissionWizard
from console.ui.health.page import HealthPage
from console.ui.health.qt_health import QtHealth
from device_runtime.protocol import StoreModelRef, StoreVersions
from tests.support.store import make_package

pytestmark = pytest.mark.gui


@pytest.fixture
def page(qtbot: QtBot, core: ConsoleCore, local_model: QtSession, tmp_path: Path) -> Iterator[HealthPage]:
    health = QtHealth(local_model)
    view = HealthPage(health, core.env)
    qtbot.addWidget(view)
    view.show()
    local_model.connect_device()
    qtbot.waitUntil(lambda: local_model.state is State.CONNECTED, timeout=20_000)
    store = StoreClient(local_model.session, who="tests")
    for seed, version in enumerate(("1.0.0", "1.1.0")):
        assert store.deploy(make_package(tmp_path, "det", version, signed=False, seed=seed)).result == "committed"
    yield view
    health.close()


def _golden(tmp_path: Path) -> Path:
    folder = tmp_path / "golden"
    folder.mkdir()
    session = ort.InferenceSession(str(tmp_path / "det-1.1.0-1.onnx"), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(3).standard_normal((2, 8)).astype(np.float32)
    np.savez(folder / "case.npz", x=x)
    np.savez(folder / "case.expected.npz", y=session.run(None, {"x": x})[0])
    return folder


def _open(qtbot: QtBot, page: HealthPage) -> CommissionWizard:
    wizard = page.open_commissioning()
    assert isinstance(wizard, CommissionWizard)
    qtbot.addWidget(wizard)
    qtbot.waitUntil(lambda: wizard.chosen_model() is not None, timeout=10_000)
    return wizard


def test_the_wizard_runs_the_checklist_live_and_saves_the_report(qtbot: QtBot, page: HealthPage,
                                                                 tmp_path: Path) -> None:
    wizard = _open(qtbot, page)
    assert wizard.model_box.currentText() == "det (active 1.1.0)"
    question = "Roll det back from 1.1.0 to 1.0.0 on This computer, then return to 1.1.0?"
    assert wizard.drill_question() == question and question.rstrip("?") in wizard.drill.text()
    asked: list[str] = []
    wizard.confirm = lambda text: asked.append(text) or True  # type: ignore[method-assign]
    wizard.serial.setText("")
    wizard.start()
    assert "Give the robot's serial number" in wizard.error.text() and not wizard.running and asked == []

    wizard.serial.setText("RB-9")
    wizard.golden.setText(str(_golden(tmp_path)))
    wizard.load.setValue(5)
    wizard.out_dir.setText(str(tmp_path / "reports"))
    seen: list[tuple[str, str]] = []
    wizard.runner.stepChanged.connect(lambda step: seen.append((step.key, step.status)))
    wizard.start()
    assert asked == [question] and wizard.running and wizard.close_button.text() == "Cancel"
    qtbot.waitUntil(lambda: not wizard.running, timeout=120_000)
    assert ("thermal", "running") in seen and seen.index(("thermal", "running")) < seen.index(("smoke", "running"))
    words = {key: item.text(1) for key, item in wizard.items.items()}
    assert words["runtime"] == "PASS" and words["smoke"] == "PASS" and words["rollback"] == "PASS"
    assert words["power"] == "SKIPPED" and words["latency"] == "SKIPPED"
    assert wizard.items["smoke"].text(2) == "det matches the expected outputs on all 1 golden case(s)"
    assert wizard.items["rollback"].childCount() == 4  # rollback, health, back, health
    assert wizard.progress.value() == 6
    json_path, html_path, pdf_path = wizard.paths
    assert json_path.parent == tmp_path / "reports" / "RB-9"
    assert json.loads(json_path.read_text())["overall"] == "passed"
    assert "Rollback drill" in html_path.read_text()
    assert pdf_path.read_bytes().startswith(b"%PDF") and pdf_path.stat().st_size > 1000
    assert "Robot RB-9: PASSED. This computer runs det 1.1.0, " in wizard.outcome.text()
    assert str(pdf_path) in wizard.outcome.text()
    assert page.commissioning.isVisible() and "Commissioning of robot RB-9 PASSED" in page.commissioning.text()
    assert wizard.start_button.text() == "Run again" and wizard.close_button.text() == "Close"


def test_cancel_stops_the_running_step_and_skips_the_rest(qtbot: QtBot, page: HealthPage, tmp_path: Path) -> None:
    wizard = _open(qtbot, page)
    wizard.serial.setText("RB-10")
    wizard.load.setValue(120)
    wizard.drill.setChecked(False)
    wizard.out_dir.setText(str(tmp_path / "reports"))
    wizard.start()
    qtbot.waitUntil(lambda: wizard.items["thermal"].text(2).startswith("benchmark"), timeout=60_000)
    wizard.close_button.click()
    assert "Cancelling" in wizard.outcome.text()
    qtbot.waitUntil(lambda: not wizard.running, timeout=60_000)
    assert wizard.report is not None and wizard.report.overall == CANCELLED
    assert wizard.items["thermal"].text(1) == STATUS_WORDS["fail"]
    for key in ("smoke", "latency", "rollback"):
        assert wizard.items[key].text(1) == STATUS_WORDS["skip"]
        assert wizard.items[key].text(2) == "not run: commissioning was cancelled"
    assert "Robot RB-10: CANCELLED" in wizard.outcome.text()


def _store(page: HealthPage) -> StoreClient:
    return StoreClient(page.health.model.session, who="tests")


def _active(page: HealthPage) -> str | None:
    reply = page.health.model.session.request("store.versions", StoreModelRef("det"))
    assert isinstance(reply, StoreVersions)
    return reply.active


def _run(qtbot: QtBot, wizard: CommissionWizard, serial: str, tmp_path: Path) -> None:
    wizard.serial.setText(serial)
    wizard.load.setValue(5)
    wizard.out_dir.setText(str(tmp_path / "reports"))
    wizard.confirm = lambda text: True  # type: ignore[method-assign]
    wizard.start()
    qtbot.waitUntil(lambda: not wizard.running, timeout=120_000)


def test_the_drill_never_switches_to_a_version_rolled_back_for_a_failure(qtbot: QtBot, page: HealthPage,
                                                                         tmp_path: Path) -> None:
    back = _store(page).rollback("det", why="crashes at start")
    assert back.result == "committed" and _active(page) == "1.0.0"  # previous is now the bad 1.1.0
    wizard = _open(qtbot, page)
    assert wizard.drill_question() is None
    assert 'det 1.1.0 was rolled back to 1.0.0 on ' in wizard.drill.text() and "by tests" in wizard.drill.text()
    assert '"crashes at start"' in wizard.drill.text() and wizard.drill.text().startswith("Rollback drill: skipped")
    _run(qtbot, wizard, "RB-11", tmp_path)
    assert wizard.items["rollback"].text(1) == STATUS_WORDS["skip"]
    reason = wizard.items["rollback"].text(2)
    assert '"crashes at start"' in reason and "switches only to a version kept good, so det stays on 1.0.0" in reason
    assert _active(page) == "1.0.0"
    report = wizard.report
    assert report is not None and report.end_state.startswith("This computer runs det 1.0.0, ")
    assert report.end_state in wizard.outcome.text()


def test_the_drill_puts_the_starting_version_back_whatever_happens(qtbot: QtBot, page: HealthPage, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def lost(_report: object) -> list[str]:
        raise DeviceError("the device stopped answering", "io")

    monkeypatch.setattr(commissioning_model_steps, "critical_failures", lost)  # fails mid-drill, on 1.0.0
    wizard = _open(qtbot, page)
    _run(qtbot, wizard, "RB-12", tmp_path)
    assert wizard.items["rollback"].text(1) == STATUS_WORDS["fail"]
    assert "the device stopped answering" in wizard.items["rollback"].text(2)
    details = [wizard.items["rollback"].child(i).text(2) for i in range(wizard.items["rollback"].childCount())]
    assert details[0].startswith("rollback 1.1.0 -> 1.0.0: committed")
    assert details[1].startswith("restoring 1.0.0 -> 1.1.0: committed")
    assert _active(page) == "1.1.0"
    assert "Robot RB-12: FAILED. This computer runs det 1.1.0, " in wizard.outcome.text()
    shown = page.commissioning.text()
    assert page.commissioning.isVisible() and "Commissioning of robot RB-12 FAILED at " in shown
    assert "Rollback drill: the step could not run: the device stopped answering" in shown
    assert "Afterwards This computer runs det 1.1.0, " in shown


def test_the_sidebar_shows_a_failed_commissioning_until_one_passes(qtbot: QtBot, core: ConsoleCore) -> None:
    sidebar = DeviceSidebar(core.registry.devices())
    qtbot.addWidget(sidebar)
    sidebar.set_state("local", "This computer", "connected")
    sidebar.set_health("local", "healthy")
    assert sidebar.state_text("local") == "This computer\nconnected · healthy"
    sidebar.set_commissioning("local", "failed")
    assert sidebar.state_text("local") == "This computer\nconnected · healthy · commissioning failed"
    sidebar.set_commissioning("local", "passed")
    assert sidebar.state_text("local") == "This computer\nconnected · healthy"
