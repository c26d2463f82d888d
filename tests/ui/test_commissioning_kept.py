"""A failed commissioning run still shows after the console restarts: the Health page's outcome line and
the sidebar's word come back from the run kept under the console's data directory, until a run passes."""

from __future__ import annotations

import time

import pytest
from pytestqt.qtbot import QtBot

from console.core.app import ConsoleCore
from console.core.commissioning.checklist import FAIL, FAILED, PASS, PASSED, CommissionReport, StepResult
from console.core.commissioning.report import last_run_path
from console.ui.health.page import HealthPage
from console.ui.main_window import MainWindow
from console.ui.theme import Theme
from tests.support.windows import quiet_window

pytestmark = pytest.mark.gui


def _report(overall: str) -> CommissionReport:
    status = FAIL if overall == FAILED else PASS
    steps = [StepResult("rollback", "Rollback drill", status, "the previous version did not load")]
    return CommissionReport("SN-7", "local", time.time(), "tech", steps, finished=time.time(), overall=overall,
                            end_state="local runs det 1.0.0, healthy")


def _open(qtbot: QtBot, core: ConsoleCore, theme: Theme) -> tuple[MainWindow, HealthPage]:
    window = quiet_window(qtbot, core, theme, page="health")
    page = window.page("health")
    assert isinstance(page, HealthPage)
    return window, page


def test_a_failed_run_shows_again_after_a_restart_until_one_passes(qtbot: QtBot, core: ConsoleCore,
                                                                   theme: Theme) -> None:
    window, page = _open(qtbot, core, theme)
    window.health_models["local"].set_commissioning(_report(FAILED))
    assert last_run_path(core.env.data_dir, "local").is_file()
    window.close()

    window, page = _open(qtbot, core, theme)  # the console started again
    assert page.commissioning.isVisibleTo(page)
    assert page.commissioning.text().startswith("✕ Commissioning of robot SN-7 FAILED")
    assert "Rollback drill: the previous version did not load" in page.commissioning.text()
    qtbot.waitUntil(lambda: window.sidebar.state_text("local").endswith(" · commissioning failed"), timeout=10_000)

    window.health_models["local"].set_commissioning(_report(PASSED))
    window.close()
    window, page = _open(qtbot, core, theme)
    assert page.commissioning.text().startswith("✓ Commissioning of robot SN-7 PASSED")
    qtbot.waitUntil(lambda: "connected" in window.sidebar.state_text("local"), timeout=10_000)
    assert "commissioning" not in window.sidebar.state_text("local")


def test_an_unreadable_kept_run_is_named_with_what_to_do(qtbot: QtBot, core: ConsoleCore, theme: Theme) -> None:
    path = last_run_path(core.env.data_dir, "local")
    path.parent.mkdir(parents=True)
    path.write_text("{not json", encoding="utf-8")
    _window, page = _open(qtbot, core, theme)
    assert page.commissioning.isVisibleTo(page)
    text = page.commissioning.text()
    assert text.startswith("○ The last commissioning run is not known: %s is not a readable" % path)
    assert text.endswith("delete it, or commission local again.")
