"""The Models page over the real local runtime: versions and statuses, Rollback with its
confirmation (cancel and accept), an explicit downgrade, pin / unpin, live updates."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from console.core.app import ConsoleCore
from console.core.env import ConsoleEnv
from console.core.models.store_client import StoreClient
from console.core.models.tracker import succeeded
from console.ui.devices.qt_session import QtSession
from console.ui.models.page import ModelsPage
from console.ui.models.qt_models import QtModels
from device_runtime.protocol import (
    TOPIC_STORE,
    Event,
    StoreAction,
)
from tests.support.models_page import WHO, deploy_versions, device_history, device_versions, robot_holds_the_swap_lock

pytestmark = pytest.mark.gui


@pytest.fixture
def store(core: ConsoleCore, local_model: QtSession, tmp_path: Path) -> Iterator[QtModels]:
    deploy_versions(local_model.session, tmp_path)
    model = QtModels(local_model, WHO, tmp_path / "keys")
    yield model
    model.close()


@pytest.fixture
def page(qtbot: QtBot, store: QtModels) -> ModelsPage:
    widget = ModelsPage(store)
    qtbot.addWidget(widget)
    widget.resize(1200, 800)
    widget.show()
    qtbot.waitUntil(lambda: widget.ready() and widget.versions.rowCount() == 2, timeout=20_000)
    return widget


def test_lists_both_versions_with_their_status(page: ModelsPage) -> None:
    assert page.title.text() == "detector"
    assert [page.version_cell(r, "Version") for r in range(2)] == ["1.1.0", "1.0.0"]
    assert page.version_cell(0, "Status") == "● active"
    assert page.version_cell(1, "Status") == "↺ previous"
    assert page.version_cell(0, "Backend") == "onnxruntime" and page.version_cell(0, "Precision") == "fp32"
    assert page.version_cell(0, "Signer") == "unsigned" and page.version_cell(0, "Size") == "276 B"
    assert page.policy.text().startswith("Signature policy: allow-unsigned")
    assert page.rollback_button.text() == "Roll back detector from 1.1.0 to 1.0.0"
    assert page.rollback_button.isEnabled() and page.rollback_button.minimumHeight() >= 48
    results = [(page.history_cell(r, "Action"), page.history_cell(r, "From → To"), page.history_cell(r, "Result"))
               for r in range(page.history.rowCount())]
    assert results[0] == ("deploy", "1.0.0 → 1.1.0", "✓ committed")
    assert ("deploy", "none → 1.0.0", "✓ committed") in results
    assert page.history_cell(0, "Who") == "tests"


def test_rollback_asks_once_cancel_changes_nothing_accept_rolls_back(qtbot: QtBot, page: ModelsPage,
                                                                      local_model: QtSession) -> None:
    session = local_model.session
    before = device_history(session).entries

    page.rollback_button.click()
    dialog = page.rollback_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.question.text() == "Roll back detector from 1.1.0 to 1.0.0 on This computer?"
    assert not dialog.intent.isVisibleTo(dialog)  # the previous version needs no extra intent
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: page.rollback_dialog is None, timeout=5_000)
    assert device_versions(session).active == "1.1.0"
    assert device_history(session).entries == before

    page.rollback_button.click()
    dialog = page.rollback_dialog
    assert dialog is not None
    dialog.why.setText("false positives at dusk")
    stages: list[str] = []
    page.models.actionProgress.connect(lambda _tag, action: stages.append(action.stage))
    dialog.confirm_button.click()
    assert dialog.running
    dialog.reject()  # Esc while the device switches: the dialog stays until the result
    assert dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.final is not None, timeout=60_000)
    assert dialog.final is not None and succeeded(dialog.final)
    assert dialog.outcome.text() == "Done: detector 1.0.0 is active and committed."
    assert any(s.startswith("switching detector to 1.0.0") for s in stages)
    assert any(s.startswith("health check") for s in stages)
    assert device_versions(session).active == "1.0.0"
    last = device_history(session).entries[-1]
    assert (last.action, last.result, last.from_version, last.to_version) == ("rollback", "committed", "1.1.0",
                                                                              "1.0.0")
    assert last.who == WHO and last.why == "false positives at dusk"
    dialog.close_button.click()
    qtbot.waitUntil(lambda: page.version_cell(1, "Status") == "● active", timeout=10_000)
    assert page.version_cell(0, "Status") == "↺ previous"
    assert page.rollback_button.text() == "Switch detector from 1.0.0 to 1.1.0"


def test_an_explicit_downgrade_needs_stated_intent(qtbot: QtBot, page: ModelsPage, local_model: QtSession,
                                                   tmp_path: Path) -> None:
    session = local_model.session
    deploy_versions(session, tmp_path / "more", ("1.2.0",), first_seed=2)
    qtbot.waitUntil(lambda: page.versions.rowCount() == 3, timeout=20_000)
    page.select_version("1.0.0")
    assert page.switch_button.isEnabled()
    page.switch_button.click()
    dialog = page.rollback_dialog
    assert dialog is not None
    assert dialog.question.text() == "Roll back detector from 1.2.0 to 1.0.0 on This computer?"
    assert dialog.intent.isVisibleTo(dialog) and not dialog.confirm_button.isEnabled()
    assert "downgrade detector to the older 1.0.0" in dialog.intent.text()
    dialog.intent.setChecked(True)
    assert dialog.confirm_button.isEnabled()
    dialog.confirm_button.click()
    qtbot.waitUntil(lambda: dialog.final is not None, timeout=60_000)
    assert device_versions(session).active == "1.0.0"
    last = device_history(session).entries[-1]
    assert (last.action, last.result, last.to_version) == ("rollback", "committed", "1.0.0")
    assert last.why == "explicit downgrade from the console"


def test_pin_and_unpin(qtbot: QtBot, page: ModelsPage, local_model: QtSession) -> None:
    page.select_version("1.0.0")
    assert page.pin_button.isEnabled() and not page.unpin_button.isEnabled()
    page.pin_button.click()
    qtbot.waitUntil(lambda: page.version_cell(1, "Status") == "↺ previous  ⚑ pinned", timeout=10_000)
    assert "pinned" in device_versions(local_model.session).versions[1].status
    assert page.unpin_button.isEnabled() and not page.pin_button.isEnabled()
    page.unpin_button.click()
    qtbot.waitUntil(lambda: page.version_cell(1, "Status") == "↺ previous", timeout=10_000)
    assert "pinned" not in device_versions(local_model.session).versions[1].status


def test_actions_from_another_console_show_live(qtbot: QtBot, page: ModelsPage, ui_env: ConsoleEnv) -> None:
    other = ConsoleCore(ui_env)  # a second connection, as edgectl would be
    try:
        session = other.session("local")
        session.connect()
        seen: list[str] = []
        page.models.actionChanged.connect(lambda action: seen.append(action.state))
        done = threading.Event()

        def roll_back() -> None:
            StoreClient(session, "edgectl").rollback("detector")
            done.set()

        worker = threading.Thread(target=roll_back)
        worker.start()
        qtbot.waitUntil(lambda: page.version_cell(1, "Status") == "● active", timeout=60_000)
        worker.join(timeout=30)
        assert done.is_set() and "running" in seen and seen[-1] == "succeeded"
        assert page.activity.text() == "Last: detector 1.0.0 is active and committed"
        assert page.history_cell(0, "Who") == "edgectl"
    finally:
        other.close()


def test_an_action_whose_end_was_never_heard_does_not_lock_the_page(qtbot: QtBot, page: ModelsPage) -> None:
    lost = StoreAction("0123456789ab", "rollback", "running", stage="switching detector to 1.0.0", progress=0.55,
                       name="detector")
    page.models.tracker.handle_event(Event(TOPIC_STORE, lost.to_wire()))
    qtbot.waitUntil(lambda: not page.rollback_button.isEnabled(), timeout=5_000)
    assert page.activity.text() == "rollback detector on This computer: switching detector to 1.0.0"
    assert page.activity_bar.isVisibleTo(page) and page.activity_bar.value() == 55
    assert page.open_rollback(None) is None  # one store action at a time
    page.refresh_button.click()  # the device does not know that action: it is not running
    qtbot.waitUntil(page.rollback_button.isEnabled, timeout=10_000)
    assert not page.activity_bar.isVisibleTo(page) and page.models.tracker.running() is None


def test_a_held_swap_lock_is_named_and_can_be_overridden_on_the_record(
        qtbot: QtBot, page: ModelsPage, local_model: QtSession, ui_env: ConsoleEnv) -> None:
    stages: list[str] = []
    page.models.actionProgress.connect(lambda _tag, action: stages.append(action.stage))
    with robot_holds_the_swap_lock(ui_env, "mission 42 in progress"):
        page.rollback_button.click()
        dialog = page.rollback_dialog
        assert dialog is not None
        dialog.confirm_button.click()
        qtbot.waitUntil(lambda: dialog.final is not None, timeout=60_000)
        assert dialog.final is not None and not succeeded(dialog.final)
        assert any("holds the swap inhibit lock (mission 42 in progress)" in s for s in stages)
        assert dialog.refusal.what.text() == ("The robot is holding the swap lock (it must not be disturbed right "
                                              "now).")
        assert device_versions(local_model.session).active == "1.1.0"
        assert dialog.override_button.isVisibleTo(dialog)
        assert dialog.override_button.text() == "Roll back anyway (recorded as an override)"
        dialog.override_button.click()
        qtbot.waitUntil(lambda: dialog.final is not None, timeout=60_000)
    assert dialog.final is not None and succeeded(dialog.final)
    assert device_versions(local_model.session).active == "1.0.0"
    last = device_history(local_model.session).entries[-1]
    assert last.result == "committed" and "override: swapped while the robot held the inhibit lock" in last.detail


def test_remove_asks_naming_what_goes_and_the_active_version(qtbot: QtBot, page: ModelsPage,
                                                             local_model: QtSession) -> None:
    session = local_model.session
    page.select_version("1.0.0")
    assert page.remove_button.isEnabled()
    box = page.open_remove(page.selected_version())
    assert box is not None and box.text() == "Remove detector 1.0.0 from the device?"
    box.button(box.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: page.remove_dialog is None, timeout=5_000)
    assert [v.version for v in device_versions(session).versions] == ["1.1.0", "1.0.0"]

    page.remove_model_button.click()
    box = page.remove_dialog
    assert box is not None
    assert box.text() == ("Remove the whole model detector from the device (1.1.0, 1.0.0)? 1.1.0 is the ACTIVE "
                          "version: detector will have no active version and stops running on the robot.")
    remove = next(b for b in box.buttons() if b.text() == "Remove")
    finals: list[StoreAction] = []
    page.models.finished.connect(lambda _tag, action: finals.append(action))
    remove.click()
    qtbot.waitUntil(lambda: bool(finals), timeout=30_000)
    assert finals[0].message == "removed detector (the whole model: 1.0.0, 1.1.0) from the device"
    assert device_versions(session).versions == [] and device_versions(session).active is None
    last = device_history(session).entries[-1]
    assert (last.action, last.result, last.from_version, last.who) == ("remove", "removed", "1.1.0", WHO)
    assert last.why == "removed from the console"
