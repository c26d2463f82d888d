"""The Health page, its settings dialog, the audit view and the sidebar's health word, over the
real local runtime."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from console.core.app import ConsoleCore
from console.core.devices.session import State
from console.ui.devices.qt_session import QtSession
from console.ui.health.page import FIX_PREFIX, TURN_ON_PREFIX, HealthPage
from console.ui.health.qt_health import HEALTH_COLORS, QtHealth
from console.ui.main_window import MainWindow
from console.ui.theme import Theme
from device_runtime.protocol import TOPIC_HEALTH, Event, HealthConfig

pytestmark = pytest.mark.gui

EVIL = "<b>x</b><img src=file:///etc/passwd>"


@pytest.fixture
def page(qtbot: QtBot, core: ConsoleCore, local_model: QtSession) -> Iterator[HealthPage]:
    health = QtHealth(local_model)
    view = HealthPage(health, core.env)
    qtbot.addWidget(view)
    view.resize(1100, 800)
    view.show()
    local_model.connect_device()
    qtbot.waitUntil(view.ready, timeout=20_000)
    yield view
    health.close()


def test_checks_show_their_result_in_words_and_run_now_adds_history(qtbot: QtBot, page: HealthPage) -> None:
    runtime = page.check_item("runtime")
    assert runtime is not None and runtime.text(1) == "PASS" and runtime.text(2) == "critical"
    assert runtime.foreground(1).color().name() == HEALTH_COLORS["healthy"] and runtime.childCount() == 0
    clocks = page.check_item("clocks")  # skipped until configured: it says how to turn it on
    assert clocks is not None and clocks.text(1) == "SKIP" and clocks.isExpanded()
    assert clocks.child(0).text(3).startswith(TURN_ON_PREFIX + "say what the robot should run at")
    assert page.verdict.text() in ("● HEALTHY", "● DEGRADED")
    assert page.checked.text().startswith("last checked ") and "every 30 s" in page.checked.text()
    before = len(page.timeline.reports)
    page.run_button.click()
    qtbot.waitUntil(lambda: len(page.timeline.reports) > before, timeout=10_000)
    assert page.timeline.rows[0] == ("", "Overall") and ("runtime", "Runtime is up") in page.timeline.rows
    assert page.timeline.status_at(1, len(page.timeline.reports) - 1)[0] == "pass"


def test_settings_refuse_bad_input_in_words_then_a_failing_critical_check_shows_its_fix(
        qtbot: QtBot, page: HealthPage) -> None:
    dialog = page.open_settings()
    qtbot.waitUntil(lambda: dialog.loaded, timeout=10_000)
    dialog.set_text("max_temperature_c", "500")
    dialog.set_text("latency_budget_ms", "fast")
    dialog.set_text("min_free_disk_mb", "")
    dialog.submit()
    text = dialog.error.text()
    assert dialog.error.isVisibleTo(dialog) and dialog.isVisible()
    assert "Latency budget must be a number in ms, not 'fast'." in text and "Minimum free disk cannot be empty." in text
    dialog.set_text("latency_budget_ms", "")
    dialog.set_text("min_free_disk_mb", "1024")
    dialog.submit()
    assert "Maximum temperature must be between 20 and 120 °C (got 500)." in dialog.error.text()
    assert page.health.monitor.get_config() == HealthConfig()  # nothing reached the device

    dialog.set_text("max_temperature_c", "85")
    dialog.set_text("restart_service", "no-such-unit.service")
    with qtbot.waitSignal(page.health.configSaved, timeout=10_000):
        dialog.submit()
    qtbot.waitUntil(lambda: page.verdict.text() == "● UNHEALTHY", timeout=10_000)
    assert page.verdict.styleSheet().startswith("color: %s;" % HEALTH_COLORS["unhealthy"])
    service = page.check_item("service")
    assert service is not None and service.text(1) == "FAIL"
    assert service.childCount() == 1 and service.isExpanded()
    assert service.child(0).text(3).startswith(FIX_PREFIX + "see journalctl -u no-such-unit.service")

    page.tabs.setCurrentWidget(page.audit)
    qtbot.waitUntil(lambda: any(e.action == "config" for e in page.audit.entries), timeout=10_000)
    actions = [page.audit.table.item(row, 2).text() for row in range(page.audit.table.rowCount())]
    assert "health check" in actions  # the runs after the change are operator actions too
    row = actions.index("config")
    assert "no-such-unit.service" in page.audit.table.item(row, 3).text()
    assert page.audit.table.item(row, 4).text() == "ok"


def test_device_text_stays_plain(qtbot: QtBot, page: HealthPage) -> None:
    last = page.health.last
    assert last is not None
    checks = [dataclasses.replace(c, message=EVIL) for c in last.checks]
    evil = dataclasses.replace(last, t=last.t + 1, checks=checks)
    page.health.model.session._on_event(Event(TOPIC_HEALTH, evil.to_wire()))
    qtbot.waitUntil(lambda: page.health.last is not None and page.health.last.t == evil.t, timeout=5_000)
    qtbot.waitUntil(lambda: page.check_item("runtime") is not None
                    and page.check_item("runtime").text(3) == EVIL, timeout=5_000)  # type: ignore[union-attr]
    item = page.check_item("runtime")
    assert item is not None and "&lt;b&gt;" in item.toolTip(3) and "<b>" not in item.toolTip(3)


def test_the_sidebar_says_unhealthy(qtbot: QtBot, core: ConsoleCore, theme: Theme) -> None:
    window = MainWindow(core, theme, "local", rate_hz=10.0, page="health")
    qtbot.addWidget(window)
    window.show()
    model = window.model()
    assert model is not None
    qtbot.waitUntil(lambda: model.state is State.CONNECTED, timeout=20_000)
    qtbot.waitUntil(lambda: window.sidebar.state_text("local") in (
        "This computer\nconnected · healthy", "This computer\nconnected · degraded"), timeout=10_000)
    page = window.page("health")
    assert isinstance(page, HealthPage)
    # The sidebar and the page each hear the report through their own queued slot: the sidebar's
    # may run first, so the page is waited for, not assumed (seen once under load).
    qtbot.waitUntil(lambda: window.page_ready(False), timeout=10_000)
    health = window.health_models["local"]
    health.save_config(HealthConfig(restart_service="no-such-unit.service"))
    qtbot.waitUntil(lambda: window.sidebar.state_text("local") == "This computer\nconnected · unhealthy",
                    timeout=10_000)
    item = window.sidebar._items["local"]
    assert item.toolTip() == "This computer: connected · unhealthy"
    tabs = window._tabs["local"]
    assert tabs.tabText(tabs.count() - 1) == "Health" and tabs.currentWidget() is page  # --page health
    window.show_page("dashboard")
    qtbot.keyClick(window, Qt.Key.Key_6, Qt.KeyboardModifier.ControlModifier)  # Ctrl+6: the sixth page
    assert tabs.currentWidget() is page
    # A periodic run that began before the new setting may still report "healthy" once; the page
    # and the sidebar follow the same reports, so both settle on the newest.
    qtbot.waitUntil(lambda: page.verdict.text() == "● UNHEALTHY" and window.sidebar.state_text("local") ==
                    "This computer\nconnected · unhealthy", timeout=20_000)
    assert window.sidebar.list.item(0).data(Qt.ItemDataRole.UserRole) == "local"
    window.close()
