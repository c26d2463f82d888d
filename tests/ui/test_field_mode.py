"""Field mode over the real local runtime: the active version, health in a coloured word, the big
Rollback button end to end; the window's toggle, remembered in the settings; --field-mode."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from console.core.app import ConsoleCore
from console.core.env import ConsoleEnv
from console.core.models.store_client import StoreClient
from console.core.models.tracker import RollbackPlan, health_words, rollback_plan, succeeded
from console.core.telemetry.activations import activations
from console.ui.devices.qt_session import QtSession
from console.ui.field_mode import FieldModeView
from console.ui.main_window import MainWindow
from console.ui.models.page import ModelsPage
from console.ui.models.qt_models import QtModels
from console.ui.models.rollback_dialog import LEVEL_COLORS, RollbackDialog
from console.ui.theme import Theme
from device_runtime.protocol import Empty, HealthReport
from tests.support.daemons import stop_daemon
from tests.support.models_page import WHO, deploy_versions, device_versions
from tests.support.ui_app import PNG_SIGNATURE, _run
from tests.support.windows import quiet_window

pytestmark = pytest.mark.gui


@pytest.fixture
def store(core: ConsoleCore, local_model: QtSession, tmp_path: Path) -> Iterator[QtModels]:
    deploy_versions(local_model.session, tmp_path)
    model = QtModels(local_model, WHO)
    yield model
    model.close()


def test_field_mode_shows_the_active_version_and_health_and_rolls_back(
        qtbot: QtBot, store: QtModels, local_model: QtSession) -> None:
    view = FieldModeView(store, local_model)
    qtbot.addWidget(view)
    view.resize(1000, 700)
    view.show()
    qtbot.waitUntil(lambda: view.ready() and "detector" in view.cards, timeout=20_000)
    card = view.cards["detector"]
    assert card.active.text() == "Active version 1.1.0" and card.since.text().startswith("since ")
    assert card.rollback_button.text() == "Roll back detector from 1.1.0 to 1.0.0"
    assert card.rollback_button.minimumHeight() >= 64 and card.rollback_button.isEnabled()
    # The view shows the device's health once its first report comes in (an event, or its poll);
    # compared with the device's latest report each time, since a periodic run may follow.
    latest: list[HealthReport] = []

    def shows_the_latest_report() -> bool:
        report = local_model.session.request("health.last", Empty())
        assert isinstance(report, HealthReport)
        latest[:] = [report]
        return view.health.text() == "Health: %s" % health_words(report)[0]

    qtbot.waitUntil(shows_the_latest_report, timeout=20_000)
    word, level = health_words(latest[0])
    assert word.split(" ", 1)[1] in ("Healthy", "Degraded", "Unhealthy")  # a word, never colour alone
    assert LEVEL_COLORS[level] in view.health.styleSheet()
    assert view.connection.text() == "connected"

    card = view.cards["detector"]  # the cards are rebuilt when the store's snapshot changes meanwhile
    card.rollback_button.click()
    dialog = view.rollback_dialog
    assert dialog is not None
    assert dialog.question.text() == "Roll back detector from 1.1.0 to 1.0.0 on This computer?"
    assert dialog.confirm_button.minimumHeight() >= 48
    dialog.why.setText("camera feed froze")
    dialog.confirm_button.click()
    qtbot.waitUntil(lambda: dialog.final is not None, timeout=60_000)
    assert dialog.final is not None and succeeded(dialog.final)
    assert device_versions(local_model.session).active == "1.0.0"
    dialog.close_button.click()
    qtbot.waitUntil(lambda: "detector" in view.cards and view.cards["detector"].active.text()
                    == "Active version 1.0.0" and view.cards["detector"].last_rollback.text() != ""
                    and view.cards["detector"].refusal.isVisibleTo(view),
                    timeout=10_000)  # the versions, their previous one and the history may arrive in separate refreshes
    card = view.cards["detector"]
    # No one-tap way back onto the version just rolled back; the rollback is shown: version, when, who, why.
    assert card.rollback_button.text() == "No earlier version to roll back to" and not card.rollback_button.isEnabled()
    assert card.refusal.isVisibleTo(view) and card.refusal.text() == (
        "1.1.0 was rolled back; re-activating it needs the full console (Models page) and a confirmation")
    shown = card.last_rollback.text()
    assert shown.startswith("Last rollback: detector 1.1.0 was rolled back to 1.0.0 on ")
    assert shown.endswith(' by %s: "camera feed froze".' % WHO) and card.last_rollback.isVisibleTo(view)
    assert view.rollback("detector") is None
    assert view.result.text() == "detector 1.0.0 is active and committed"


def test_re_activating_a_rolled_back_version_names_the_rollback_and_is_an_event_of_its_own(
        qtbot: QtBot, store: QtModels, local_model: QtSession) -> None:
    StoreClient(local_model.session, "ann@lab").rollback("detector", why="camera feed froze")
    store.refresh()

    def offered() -> RollbackPlan | None:  # a refresh that read the store mid-rollback shows its trial state
        entry = store.tracker.snapshot.models.get("detector")
        return rollback_plan(entry.versions) if entry is not None and entry.versions.active == "1.0.0" else None

    qtbot.waitUntil(lambda: offered() is not None and offered().target == "1.1.0", timeout=20_000)  # type: ignore[union-attr]
    plan = offered()
    assert plan is not None and plan.target == "1.1.0"
    dialog = RollbackDialog(store, plan)
    qtbot.addWidget(dialog)
    question = dialog.question.text()
    assert question.startswith("Re-activate detector 1.1.0 on This computer (now 1.0.0)? detector 1.1.0 was rolled "
                               "back to 1.0.0 on ")
    assert question.endswith(' by ann@lab: "camera feed froze".') and dialog.confirm_button.text() == "Re-activate"
    assert not dialog.confirm_button.isEnabled()  # not one tap: the operator states the intent first
    dialog.intent.setChecked(True)
    dialog.confirm_button.click()
    qtbot.waitUntil(lambda: dialog.final is not None, timeout=60_000)
    assert dialog.final is not None and succeeded(dialog.final)
    assert device_versions(local_model.session).active == "1.1.0"
    store.refresh()
    qtbot.waitUntil(lambda: len(activations(store.tracker.snapshot)) == 4, timeout=20_000)
    assert [a.verb for a in activations(store.tracker.snapshot)] == ["Deploy", "Deploy", "Rollback", "Re-activation"]
    assert activations(store.tracker.snapshot)[-1].label == "Re-activation detector 1.0.0 → 1.1.0"


def _window(qtbot: QtBot, core: ConsoleCore, theme: Theme, page: str = "dashboard") -> MainWindow:
    return quiet_window(qtbot, core, theme, page=page, rate_hz=5.0)  # an empty store: "No models" is shown


def test_the_window_toggles_field_mode_and_remembers_it(qtbot: QtBot, core: ConsoleCore, theme: Theme,
                                                        ui_env: ConsoleEnv) -> None:
    window = _window(qtbot, core, theme, page="models")
    tabs = window._tabs["local"]
    titles = [tabs.tabText(i) for i in range(tabs.count())]
    assert titles[:5] == ["Dashboard", "Models", "Optimize", "Jobs", "Benchmarks"]
    assert isinstance(tabs.currentWidget(), ModelsPage)
    assert not window.field_mode() and window.modes.currentIndex() == 0

    window.field_action.trigger()
    assert window.field_mode() and window.modes.currentIndex() == 1
    view = window.field_stack.currentWidget()
    assert isinstance(view, FieldModeView)
    qtbot.waitUntil(view.ready, timeout=20_000)
    assert view.empty.text() == "No models on This computer yet." and view.empty.isVisibleTo(window)
    assert json.loads(ui_env.settings_path.read_text())["field_mode"] is True

    view.exit_button.click()
    assert not window.field_mode() and window.modes.currentIndex() == 0
    assert json.loads(ui_env.settings_path.read_text())["field_mode"] is False
    window.field_action.trigger()
    window.close()

    again = _window(qtbot, ConsoleCore(ui_env), theme)
    try:
        assert again.field_mode() and isinstance(again.field_stack.currentWidget(), FieldModeView)
    finally:
        again.close()
        again.core.close()


def test_edge_console_field_mode_and_models_page_screenshots(tmp_path: Path, short_runtime_dir: Path) -> None:
    shots = {"field": tmp_path / "field.png", "models": tmp_path / "models.png"}
    try:
        field = _run(["--field-mode", "--screenshot", str(shots["field"])], tmp_path, short_runtime_dir)
        models = _run(["--page", "models", "--screenshot", str(shots["models"])], tmp_path, short_runtime_dir)
    finally:
        stop_daemon(short_runtime_dir / "edge-runtime" / "edge-runtime.sock")
    assert field.returncode == 0, field.stderr
    assert models.returncode == 0, models.stderr
    for shot in shots.values():
        data = shot.read_bytes()
        assert data[:8] == PNG_SIGNATURE and struct.unpack(">II", data[16:24]) == (1400, 900)
    settings = tmp_path / "config" / "edge-console" / "settings.json"
    assert not settings.exists() or json.loads(settings.read_text()).get("field_mode") is not True
