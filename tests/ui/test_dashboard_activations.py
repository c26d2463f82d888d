"""Deploys and rollbacks on the Dashboard, over the real local runtime: every chart marks the
moment the running version changed, the event list has a row for each (who did it, from and to
which version), and activating a row shows that moment."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from console.core.app import ConsoleCore
from console.core.models.packages import build_package
from console.core.models.store_client import StoreClient
from console.core.models.tracker import ModelEntry, StoreSnapshot
from console.core.telemetry.activations import Activation, activations
from console.ui.dashboard.event_panel import EventPanel
from console.ui.theme import Theme
from device_runtime.protocol import StoreHistoryEntry, StoreModel, StoreVersions
from tests.support.store import make_onnx
from tests.support.windows import quiet_window

pytestmark = pytest.mark.gui


def _entry(t: float, action: str, result: str, old: str | None, new: str | None) -> StoreHistoryEntry:
    return StoreHistoryEntry(t, "a%g" % t, action, result, "ana@laptop", old, new)


def test_activations_are_the_changes_of_the_running_version_oldest_first() -> None:
    history = [_entry(10.0, "import", "imported", None, "1.0.0"), _entry(11.0, "deploy", "started", None, "1.0.0"),
               _entry(12.0, "deploy", "committed", None, "1.0.0"), _entry(30.0, "pin", "changed", None, "1.0.0"),
               _entry(40.0, "deploy", "rolled_back", "1.0.0", "1.1.0"),
               _entry(50.0, "rollback", "committed", "1.1.0", "1.0.0")]
    other = [_entry(20.0, "activate", "committed", "2.0.0", "2.1.0"), _entry(45.0, "deploy", "failed", "2.1.0", "3.0")]
    snapshot = StoreSnapshot(models={
        "det": ModelEntry(StoreModel("det", "1.0.0"), StoreVersions("det", []), history),
        "seg": ModelEntry(StoreModel("seg", "2.1.0"), StoreVersions("seg", []), other)})
    found = activations(snapshot)
    assert [a.label for a in found] == [
        "Deploy det none → 1.0.0", "Activate seg 2.0.0 → 2.1.0",
        "Deploy det 1.0.0 → 1.1.0, rolled back (it failed its checks)", "Rollback det 1.1.0 → 1.0.0"]
    assert len({a.key for a in found}) == 4 and all(a.who == "ana@laptop" for a in found)
    assert [a.chart_label(False) for a in found] == ["Deploy 1.0.0", "Activate 2.1.0", "Deploy 1.1.0 (rolled back)",
                                                     "Rollback to 1.0.0"]
    assert found[1].chart_label(True) == "Activate seg 2.1.0"


def test_deploys_and_a_rollback_are_marked_on_the_charts_and_listed(
        qtbot: QtBot, core: ConsoleCore, theme: Theme, tmp_path: Path) -> None:
    window = quiet_window(qtbot, core, theme)  # only this test's deploys in the store
    dashboard, model = window.dashboard(), window.model()
    assert dashboard is not None and model is not None
    client = StoreClient(model.session, "tests@bench")
    for version, seed in (("1.0.0", 1), ("1.1.0", 2)):
        package = tmp_path / ("det-%s.tar.gz" % version)
        build_package(make_onnx(tmp_path / ("m%d.onnx" % seed), seed), package, "det", version, "tests")
        assert client.deploy(package).result == "committed"
    assert client.rollback("det").result == "committed"

    qtbot.waitUntil(lambda: len(dashboard.activations) == 3, timeout=20_000)
    assert [a.label for a in dashboard.activations] == [
        "Deploy det none → 1.0.0", "Deploy det 1.0.0 → 1.1.0", "Rollback det 1.1.0 → 1.0.0"]
    rows = dashboard.events.rows()
    assert rows[0][:4] == ["Info", "Rollback", "det", "Rollback det 1.1.0 → 1.0.0 by tests@bench"]
    assert [r[1] for r in rows[:3]] == ["Rollback", "Deploy", "Deploy"]
    assert dashboard.events.count_label.text().endswith("3 model changes")

    qtbot.waitUntil(lambda: dashboard.points_drawn() > 0, timeout=20_000)
    chart = dashboard.charts[0]

    def marked() -> bool:
        dashboard._dirty = True
        dashboard._on_frame()
        QApplication.processEvents()
        return len(chart.activation_markers.labels()) == 3

    qtbot.waitUntil(marked, timeout=20_000)
    assert sorted(chart.activation_markers.labels()) == ["Deploy 1.0.0", "Deploy 1.1.0", "Rollback to 1.0.0"]
    lines = {line.label.toPlainText(): line.value() for line in chart.activation_markers.lines.values()}
    rollback: Activation = dashboard.activations[-1]
    assert lines["Rollback to 1.0.0"] == pytest.approx(rollback.t - chart.origin)
    hover = chart.hover_text(rollback.t - chart.origin)
    assert hover is not None and "Rollback det 1.1.0 → 1.0.0 by tests@bench" in hover

    with qtbot.waitSignal(dashboard.events.activationActivated, timeout=5_000):
        dashboard.events.table.cellClicked.emit(0, 0)  # the rollback's row
    start, end = dashboard.view_range()  # type: ignore[misc]
    assert not dashboard.live and start <= rollback.t <= end


def test_a_device_with_no_model_changes_keeps_the_empty_event_list_words(qtbot: QtBot) -> None:
    panel = EventPanel()
    qtbot.addWidget(panel)
    panel.show_activations([])  # the store's history was read: nothing was ever deployed
    assert panel.count_label.text() == "none so far" and panel.rows() == []
