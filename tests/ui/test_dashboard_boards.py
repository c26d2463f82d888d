"""The Dashboard on the three kinds of machine: a Jetson (metric table and readings from the real
collectors on a committed AGX Orin tree), a dGPU box (the NVML capture taken on a real H100
under load) and this machine's own table without a GPU."""

from __future__ import annotations

import io
import json

import pytest
from pytestqt.qtbot import QtBot

from console.core.app import ConsoleCore
from console.core.telemetry.export import write_csv
from console.ui.dashboard.event_panel import ONGOING
from console.ui.dashboard.layout import NO_LATENCY_SOURCE, NOT_AVAILABLE
from console.ui.dashboard.page import Dashboard
from console.ui.theme import Theme
from device_runtime.collectors.system import SystemCollector
from device_runtime.collectors.tegra import TegraCollector
from device_runtime.collectors.thermal import ThermalCollector
from device_runtime.protocol import TOPIC_ALERT, AlertEvent, Event, MetricSpec
from tests.support.dashboard import FIXTURES, T0, _board, _draw

pytestmark = pytest.mark.gui


def _placeholders(board: Dashboard) -> dict[str, str]:
    return {p.title_label.text(): p.text_label.text() for p in board.placeholders}


def test_jetson_agx_orin(qtbot: QtBot, core: ConsoleCore, theme: Theme) -> None:
    root = FIXTURES / "boards" / "agx-orin"
    collectors = [TegraCollector(str(root / "sys"), str(root / "proc"), str(root / "etc"), str(root / "var")),
                  ThermalCollector(str(root / "sys"))]
    metrics = [m for c in collectors for m in c.metrics()]
    board, store = _board(qtbot, core, theme, metrics)
    for i in range(20):
        values: dict[str, float] = {}
        for collector in collectors:
            values.update(collector.collect())
        store.add(T0 + i * 0.1, values)
    _draw(board)
    titles = {c.title for c in board.charts}
    assert {"GPU load", "GPU frequency", "CPU frequency", "Temperatures", "Power rails"} <= titles
    assert _placeholders(board) == {"CPU load": "CPU load: %s." % NOT_AVAILABLE,  # psutil's, not the tegra tree's
                                    "Load per core": "Load per core: %s." % NOT_AVAILABLE,
                                    "Inference latency": NO_LATENCY_SOURCE}
    temps = next(c for c in board.charts if c.title == "Temperatures")
    assert len(temps.metrics) >= 5 and temps.values_label.text().count("°C") == len(temps.metrics)
    rails = next(c for c in board.charts if c.title == "Power rails")
    assert all(m.unit == "mW" for m in rails.metrics) and "mW" in rails.values_label.text()
    for collector in collectors:
        collector.close()


def test_dgpu_box_from_the_h100_capture_with_its_power_cap(qtbot: QtBot, core: ConsoleCore, theme: Theme) -> None:
    capture = json.loads((FIXTURES / "nvml" / "h100_load.json").read_text())
    metrics = [MetricSpec.from_wire(m) for m in capture["metrics"]]
    board, store = _board(qtbot, core, theme, metrics)
    readings = capture["readings"]
    for reading in readings:
        store.add(T0 + reading["t"], reading["values"])
    load = [r for r in readings if r["phase"] == "load"]
    cap = AlertEvent("cap", "power_cap", "warning", "gpu0", "GPU 0 is held at its power limit (software power cap).",
                     T0 + load[0]["t"], T0 + load[-1]["t"])
    board.model.session._on_event(Event(TOPIC_ALERT, cap.to_wire()))
    board.window_box.setCurrentIndex(board.window_box.findText("5 min"))
    _draw(board)
    assert board.group_headers[0].text() == "GPU"
    assert not any(t.startswith("GPU") for t in _placeholders(board))
    power = next(c for c in board.charts if c.title == "GPU power")
    _, watts = power.curves["gpu.0.power"].getOriginalDataset()
    assert max(watts) > 500 and min(watts) < 100  # the load's rise and fall are both drawn
    assert power.markers.labels() == ["Power cap · gpu0 (warning)"]
    assert board.events.rows()[0][:3] == ["Warning", "Power cap", "gpu0"]


def test_machine_without_gpu_says_so(qtbot: QtBot, core: ConsoleCore, theme: Theme) -> None:
    system = SystemCollector()
    board, store = _board(qtbot, core, theme, system.metrics())
    store.add(T0, system.collect())
    _draw(board)
    placeholders = _placeholders(board)
    for title in ("GPU load", "GPU frequency", "Temperatures", "Power rails"):
        assert placeholders[title] == "%s: %s." % (title, NOT_AVAILABLE)
    assert "CPU load" in {c.title for c in board.charts}
    assert all("0 %" not in p for p in placeholders.values())


def test_dgpu_box_marks_the_power_cap_the_daemon_pushed_on_a_real_h100(qtbot: QtBot, core: ConsoleCore,
                                                                        theme: Theme) -> None:
    # Samples and alert events as a console received them from the daemon on an H100 under load.
    table = json.loads((FIXTURES / "nvml" / "h100_load.json").read_text())["metrics"]  # the same NVML collector's
    metrics = [MetricSpec.from_wire(m) for m in table]
    capture = json.loads((FIXTURES / "nvml" / "h100_daemon_alerts.json").read_text())
    board, store = _board(qtbot, core, theme, metrics)
    for sample in capture["samples"]:
        store.add(sample["device_t"], sample["values"])
    for alert in capture["alerts"]:
        event = {k: v for k, v in alert.items() if k not in ("phase", "at")}
        board.model.session._on_event(Event(TOPIC_ALERT, AlertEvent.from_wire(event).to_wire()))
    _draw(board)
    power = next(c for c in board.charts if c.title == "GPU power")
    assert power.markers.labels() == ["Power cap · gpu0 (warning)"]
    (row,) = board.events.rows()
    assert row[:3] == ["Warning", "Power cap", "gpu0"] and "software power cap" in row[3]
    assert row[5] != ONGOING and row[6] == "14s"  # the end the daemon pushed after the load stopped


def test_jetson_power_mode_reads_as_its_name_and_counters_as_whole_numbers(
        qtbot: QtBot, core: ConsoleCore, theme: Theme) -> None:
    root = FIXTURES / "boards" / "orin-nano"  # nvpmodel status: mode 2, MAXN_SUPER; OC counts 1, 0, 2
    collector = TegraCollector(str(root / "sys"), str(root / "proc"), str(root / "etc"), str(root / "var"))
    board, store = _board(qtbot, core, theme, collector.metrics())
    for i in range(20):
        store.add(T0 + i * 0.1, collector.collect())
    _draw(board)
    mode = next(c for c in board.charts if c.title == "Power mode")
    assert mode.values_label.text() == "mode MAXN_SUPER"
    hover = mode.hover_text(T0 + 1.0 - mode.origin)
    assert hover is not None and hover.splitlines()[1] == "mode  MAXN_SUPER"
    assert mode.plot.getPlotItem().getAxis("left")._tickLevels == [[(0.0, "15W"), (1.0, "25W"), (2.0, "MAXN_SUPER")]]
    oc = next(c for c in board.charts if c.title == "Over-current throttling")
    assert "OC1" in oc.values_label.text() and "." not in oc.values_label.text()
    assert [part.rsplit(" ", 1)[1] for part in oc.values_label.text().split("  ·  ")] == ["1", "0", "2"]
    out = io.StringIO()
    write_csv(store, out)
    header, first = (line.split(",") for line in out.getvalue().splitlines()[:2])
    row = dict(zip(header, first, strict=True))
    assert row["jetson.power_mode"] == "MAXN_SUPER"
    assert [row["jetson.oc.%d.events" % n] for n in (1, 2, 3)] == ["1", "0", "2"]
    collector.close()
