"""A device that drops out, on the real local runtime: its daemon is stopped and cannot start again
for a while (its Python is gone), then comes back. Every page says so with the attempt, device
actions wait, Live goes off, the outage is a row in Events and a break in the charts, and the
console reconnects by itself."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from console.core.devices.session import State
from console.transport.local import LocalTransport
from console.ui.field_mode import FieldModeView
from console.ui.main_window import MainWindow
from device_runtime.server.bridge import connect
from tests.support.daemons import stop_daemon

pytestmark = pytest.mark.gui

DOWN = re.compile(r"^This computer disconnected since \d\d:\d\d - reconnecting \(attempt (\d+)\)")


def test_an_outage_is_shown_everywhere_and_the_local_device_reconnects_by_itself(
        qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    model = window.model()
    dashboard = window.dashboard()
    assert model is not None and dashboard is not None
    store = model.store
    qtbot.waitUntil(lambda: model.store is not None and model.store.received > 3, timeout=20_000)
    store = model.store
    assert store is not None and dashboard.live and not window.banner.isVisible()
    transport = model.session.transport
    assert isinstance(transport, LocalTransport)
    transport.python = str(tmp_path / "python-removed")  # the runtime cannot start again for now
    stop_daemon(window.core.env.local_socket)

    qtbot.waitUntil(lambda: bool(DOWN.match(window.banner.text.text())) and int(
        DOWN.match(window.banner.text.text()).group(1)) >= 2, timeout=30_000)  # type: ignore[union-attr]
    assert window.banner.isVisible() and window.banner.reconnect_button.isVisible()
    assert window.banner.reconnect_button.minimumHeight() >= 32
    assert "Device actions are off until it is back." in window.banner.text.text()
    assert DOWN.match(window.status_label.text().replace(" · ", " ", 1))
    assert "reconnecting" in window.sidebar.state_text("local")
    for key in ("models", "optimize", "jobs", "health"):
        page = window.page(key)
        assert page is not None and not page.isEnabled(), key
    assert not dashboard.live and not dashboard.live_action.isChecked()
    assert DOWN.match(dashboard.notice.text())
    outage_rows = [r for r in dashboard.events.rows() if r[1] == "Disconnected"]
    assert len(outage_rows) == 1 and outage_rows[0][5] == "ongoing" and outage_rows[0][0] == "Warning"

    window.set_field_mode(True)
    field = window.field_stack.currentWidget()
    assert isinstance(field, FieldModeView)
    assert DOWN.match(field.connection.text().replace("disconnected", "This computer disconnected", 1))
    assert field.banner.isVisibleTo(field) and DOWN.match(field.banner.text.text())
    assert field.health.text() == "Health: unknown while disconnected"  # not "Checking health" forever
    window.set_field_mode(False)

    transport.python = sys.executable  # the runtime can start again: the next attempt reconnects
    qtbot.waitUntil(lambda: model.state is State.CONNECTED, timeout=30_000)
    qtbot.waitUntil(lambda: model.store is not None and model.store.last_t is not None
                    and model.store.last_t > model.session.outages[-1].end, timeout=20_000)  # type: ignore[operator]
    # The session's state changes on its worker thread; the banner hears of it by a queued signal:
    # wait for what the user sees, not for the session.
    qtbot.waitUntil(lambda: not window.banner.isVisible() and dashboard.live and all(
        r[5] != "ongoing" for r in dashboard.events.rows() if r[1] == "Disconnected"), timeout=10_000)
    for key in ("models", "optimize", "jobs", "health"):
        page = window.page(key)
        assert page is not None and page.isEnabled(), key
    outage = model.session.outages[-1]
    assert outage.end is not None and outage.attempts >= 2
    (row,) = [r for r in dashboard.events.rows() if r[1] == "Disconnected"]
    assert row[5] != "ongoing" and "back after %d attempts" % outage.attempts in row[3]
    current = model.store
    assert current is not None
    times, values = current.series(current.metrics[0].name)
    after = times >= outage.start
    before = times < outage.start
    assert before.any() and not math.isnan(values[before][-1])
    assert math.isnan(values[after][0]) and not math.isnan(values[after][-1])  # a break, not a line across
    assert "disconnected" not in window.status_label.text()


def test_device_menu_stops_this_computers_runtime_and_reconnect_starts_it_again(
        qtbot: QtBot, window: MainWindow) -> None:
    model = window.model()
    assert model is not None
    asked: list[str] = []
    window.confirm = lambda title, text: asked.append(text) or True  # type: ignore[method-assign]
    window.stop_local_action.trigger()
    assert asked and "Its running jobs and latency probe stop" in asked[0]
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("This computer's runtime: stopped "
                                                                          "edge-runtime daemon (pid "), timeout=30_000)
    assert model.state is State.DISCONNECTED
    assert connect(str(window.core.env.local_socket)) is None  # nothing answers on its socket any more
    window.banner.set_model(model)
    window.banner.reconnect_button.click()
    qtbot.waitUntil(lambda: model.state is State.CONNECTED, timeout=30_000)
