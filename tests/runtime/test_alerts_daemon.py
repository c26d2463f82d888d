"""Alerts end to end: a real daemon reading a fixture board pushes alerts, lists them, keeps its
thresholds across a restart and refuses bad ones; ``device.state`` describes the collectors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from device_runtime import protocol as p
from tests.support.board_daemon import BoardDaemon
from tests.support.wire import RawClient


@pytest.fixture
def agx_orin(short_tmp: Path) -> Iterator[BoardDaemon]:
    daemon = BoardDaemon(short_tmp, "agx-orin")
    daemon.start()
    yield daemon
    daemon.stop()


def alert_event(client: RawClient, predicate: object) -> p.AlertEvent:
    """The next pushed alert matching ``predicate``; the client's socket timeout is the deadline."""
    while True:
        message = client.recv_until(lambda m: isinstance(m, p.Event) and m.topic == p.TOPIC_ALERT)
        assert isinstance(message, p.Event)
        event = p.AlertEvent.from_wire(message.data)
        if predicate(event):  # type: ignore[operator]
            return event


def test_low_thresholds_push_an_alert_that_is_listed_and_ends(agx_orin: BoardDaemon) -> None:
    client = agx_orin.client()
    assert isinstance(client.call("events.subscribe", {"topics": ["alert"]}), p.Response)
    low = p.AlertThresholds(temperature_warning_c=42.0, temperature_critical_c=95.0, hold_s=0.3)
    reply = client.call("alerts.thresholds.set", low.to_wire())
    assert isinstance(reply, p.Response) and reply.result == low.to_wire()
    # cpu-thermal reads 44.562 °C in the AGX Orin tree: over 42 °C.
    started = alert_event(client, lambda e: e.source == "cpu-thermal" and e.end is None)
    assert (started.kind, started.severity, started.threshold, started.value) == ("temperature", "warning", 42.0,
                                                                                  44.562)
    listed = client.call("alerts.list", {})
    assert isinstance(listed, p.Response)
    alerts = p.AlertList.from_wire(listed.result).alerts
    assert started.id in {a.id for a in alerts if a.end is None}
    (agx_orin.board / "sys/class/thermal/thermal_zone0/temp").write_text("40000\n")  # it cools down
    ended = alert_event(client, lambda e: e.id == started.id)
    assert ended.end is not None and ended.end >= started.start
    listed = client.call("alerts.list", {"since": ended.end})
    assert isinstance(listed, p.Response)
    assert [a.end for a in p.AlertList.from_wire(listed.result).alerts if a.id == started.id] == [ended.end]
    assert "alert started temperature (cpu-thermal)" in agx_orin.log
    client.close()


def test_thresholds_survive_a_restart_and_bad_ones_are_refused(agx_orin: BoardDaemon) -> None:
    client = agx_orin.client()
    mine = p.AlertThresholds(temperature_warning_c=70.0, temperature_critical_c=90.0,
                             zone_limits_c={"tj-thermal": 80.0}, hold_s=5.0)
    assert isinstance(client.call("alerts.thresholds.set", mine.to_wire()), p.Response)
    bad = dict(mine.to_wire(), temperature_warning_c=100.0)
    refused = client.call("alerts.thresholds.set", bad)
    assert isinstance(refused, p.ErrorReply) and refused.code == p.ErrorCode.BAD_FIELD
    assert "must be below temperature_critical_c" in refused.message and "nothing was changed" in refused.message
    wrong_type = client.call("alerts.thresholds.set", {"hold_s": "soon"})
    assert isinstance(wrong_type, p.ErrorReply) and "hold_s must be a number" in wrong_type.message
    client.close()
    saved = json.loads((agx_orin.root / "config" / "alerts.json").read_text())
    assert saved == {"version": 1, "thresholds": mine.to_wire()}

    agx_orin.stop()
    agx_orin.start()
    client = agx_orin.client()
    got = client.call("alerts.thresholds.get", {})
    assert isinstance(got, p.Response) and p.AlertThresholds.from_wire(got.result) == mine
    client.close()


def test_a_corrupt_thresholds_file_falls_back_to_defaults(short_tmp: Path) -> None:
    daemon = BoardDaemon(short_tmp, "orin-nano")
    config = daemon.root / "config" / "alerts.json"
    config.parent.mkdir(parents=True)
    config.write_text('{"version": 1, "thresholds": {"hold_s": ')  # cut off mid-write by a power loss
    daemon.start()
    try:
        client = daemon.client()
        got = client.call("alerts.thresholds.get", {})
        assert isinstance(got, p.Response) and p.AlertThresholds.from_wire(got.result) == p.AlertThresholds()
        assert "cannot be used" in daemon.log and str(config) in daemon.log
        assert not config.exists()  # set aside, kept as it was
        assert (config.parent / "alerts.json.bad").read_text().endswith('"hold_s": ')
        fixed = p.AlertThresholds(hold_s=1.0)
        assert isinstance(client.call("alerts.thresholds.set", fixed.to_wire()), p.Response)
        assert json.loads(config.read_text())["thresholds"]["hold_s"] == 1.0
        client.close()
    finally:
        daemon.stop()


def test_device_state_names_power_mode_and_what_each_collector_cannot_read(agx_orin: BoardDaemon) -> None:
    client = agx_orin.client()
    reply = client.call("device.state", {})
    assert isinstance(reply, p.Response)
    state = p.DeviceState.from_wire(reply.result)
    assert state.power_mode == "MAXN" and state.clocks_locked is False
    by_name = {c.name: c for c in state.collectors}
    assert by_name["tegra"].active and by_name["thermal"].active
    assert "root" in by_name["tegra"].absent["engine"]
    assert by_name["nvml"].active or by_name["nvml"].absent["gpu"]  # a GPU box has NVML; this one may not
    client.close()
