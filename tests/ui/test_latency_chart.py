"""The Dashboard's latency card fed by a real LatencyReporter through the real local runtime:
percentile curves per source and stage, the version step after a rollback, the budget line
(saved in the console settings) and the probe's state in words."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from console.core.app import ConsoleCore
from console.core.devices.registry import DeviceRegistry
from console.core.models.packages import build_package
from console.core.models.store_client import StoreClient
from console.core.telemetry.latency import BudgetBook
from console.ui.dashboard.latency_chart import LatencyCard
from console.ui.dashboard.page import Dashboard
from console.ui.devices.qt_session import QtSession
from console.ui.theme import Theme
from device_runtime.report import LATENCY_SOCKET_NAME, LatencyReporter
from tests.support.store import make_onnx

pytestmark = pytest.mark.gui


class Reporter:
    """The robot's process: reports ``detector`` latency at about 50 Hz until stopped."""

    def __init__(self, socket_path: str) -> None:
        self.reporter = LatencyReporter(model="detector", socket_path=socket_path)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        i = 0
        while not self._stop.wait(0.02):  # paces the reports; nothing here waits for readiness
            i += 1
            self.reporter.record(0.004 + (i % 10) * 0.0002, preprocess=0.001, infer=0.0025, postprocess=0.0005)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.reporter.close()


@pytest.fixture
def board(qtbot: QtBot, core: ConsoleCore, local_model: QtSession, theme: Theme) -> Iterator[Dashboard]:
    dashboard = Dashboard(local_model, theme, window_s=60.0, budgets=BudgetBook(core.registry))
    qtbot.addWidget(dashboard)
    dashboard.resize(1200, 1400)
    dashboard.show()
    with qtbot.waitSignal(local_model.tableChanged, timeout=30_000):
        local_model.connect_device()
    yield dashboard
    dashboard.hide()


def _redraw(board: Dashboard) -> None:
    assert board.latency_card is not None
    board.scroll_area.ensureWidgetVisible(board.latency_card)
    QApplication.processEvents()
    board._dirty = True
    board._on_frame()
    QApplication.processEvents()


def _curve_drawn(board: Dashboard, card: LatencyCard, curve: str) -> bool:
    """Redraw, then say whether ``curve`` holds at least one point."""
    _redraw(board)
    x, _y = card.curves[curve].getOriginalDataset()
    return x is not None and len(x) >= 1


def test_reported_latency_draws_with_the_version_step_and_the_budget_line(
        qtbot: QtBot, board: Dashboard, core: ConsoleCore, tmp_path: Path) -> None:
    session = board.model.session
    client = StoreClient(session, "tests")
    for version, seed in (("1.0.0", 1), ("1.1.0", 2)):
        model = make_onnx(tmp_path / ("m%d.onnx" % seed), seed)
        package = tmp_path / ("detector-%s.tar.gz" % version)
        build_package(model, package, "detector", version, "tests")
        assert client.deploy(package).result == "committed"
    card = board.latency_card
    assert card is not None and card in board.placeholders
    assert "No latency source is reporting yet" in card.text_label.text()
    reporter = Reporter(str(core.env.local_socket.parent / LATENCY_SOCKET_NAME))
    try:
        qtbot.waitUntil(lambda: board.latency.store.latest("detector", "total") is not None, timeout=20_000)
        qtbot.waitUntil(lambda: card.source_box.currentText() == "detector", timeout=20_000)
        assert [card.stage_box.itemText(i) for i in range(card.stage_box.count())] == [
            "total", "preprocess", "infer", "postprocess"]
        # A window reaches the card a frame after the source box fills: wait for the curve itself.
        qtbot.waitUntil(lambda: _curve_drawn(board, card, "p99"), timeout=20_000)
        text = card.text_label.text()
        assert "p50 " in text and "p99 " in text and " ms" in text and "version 1.1.0" in text
        x, y = card.curves["p99"].getOriginalDataset()
        assert x is not None and len(x) >= 1 and 3.9 <= float(y[-1]) <= 6.0

        card.stage_box.setCurrentText("infer")
        qtbot.waitUntil(lambda: _curve_drawn(board, card, "p50"), timeout=20_000)
        _x, y = card.curves["p50"].getOriginalDataset()
        assert y is not None and float(y[-1]) == pytest.approx(2.5, abs=0.01)
        hover = card.hover_text(float(_x[-1]))
        assert hover is not None and "p95  2.50 ms" in hover and "version 1.1.0" in hover
        card.stage_box.setCurrentText("postprocess")  # 0.5 ms: the axis reads in ms, never "ms (x0.001)"
        _redraw(board)
        label = card.plot.getPlotItem().getAxis("left").labelString()
        assert "ms" in label and "x0.001" not in label, label

        assert client.rollback("detector").result == "committed"
        qtbot.waitUntil(lambda: board.latency.store.latest("detector", "infer").version == "1.0.0",  # type: ignore[union-attr]
                        timeout=20_000)
        # The step is drawn once a frame covers the first window of the new version.
        def marked() -> bool:
            _redraw(board)
            return card.version_labels() == ["1.0.0"]

        qtbot.waitUntil(marked, timeout=20_000)

        card.budget_box.setValue(5.0)
        card.budget_box.editingFinished.emit()
        _redraw(board)
        assert card.budget_line.isVisible() and card.budget_line.value() == 5.0
        assert card.budget_line.label.toPlainText() == "budget 5.00 ms"
        assert DeviceRegistry(core.env).get("local").latency_budget_ms == 5.0
        assert not card.device_budget_line.isVisible()  # the device has no health budget set
    finally:
        reporter.stop()


def test_the_probe_control_shows_a_refusal_in_the_devices_words(qtbot: QtBot, board: Dashboard) -> None:
    card = board.latency_card
    assert card is not None
    qtbot.waitUntil(lambda: card.probe_control.status_label.text() == "Probe: off.", timeout=20_000)
    control = card.probe_control
    control.model_box.setEditText("nothing-here")
    control.rate_box.setCurrentIndex(control.rate_box.findData(10.0))
    control.apply()
    qtbot.waitUntil(lambda: control.status_label.text().startswith("Not changed:"), timeout=20_000)
    assert "no model named nothing-here" in control.status_label.text()
    control.shapes_edit.setText("image:1xAx64")
    control.apply()
    assert "is not NAME:DxDx..." in control.status_label.text()
