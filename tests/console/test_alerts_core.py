"""The console's alert model: merge rules, the bound, thresholds input, and the feed against a
real daemon reading a committed Jetson fixture tree (its thermal zones drive real alerts)."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.core.app import ConsoleCore
from console.core.devices.client import DeviceError
from console.core.env import ConsoleEnv
from console.core.telemetry.alerts import AlertFeed, AlertLog, kind_label, severity_label
from console.core.telemetry.thresholds import (
    ThresholdError,
    apply_assignments,
    get_thresholds,
    set_thresholds,
    validate,
)
from device_runtime.protocol import AlertEvent, AlertThresholds, ErrorCode
from device_runtime.server.bridge import start_daemon

BOARDS = Path(__file__).resolve().parents[1] / "fixtures" / "boards"


def _alert(alert_id: str, start: float, end: float | None = None, kind: str = "power_cap") -> AlertEvent:
    return AlertEvent(alert_id, kind, "warning", "gpu0", "GPU 0 is power capped.", start, end)


def test_an_alert_that_ends_updates_its_entry_and_never_reopens() -> None:
    log = AlertLog()
    assert log.merge(_alert("a", 10.0)) == _alert("a", 10.0)
    assert log.merge(_alert("a", 10.0)) is None  # the same message twice changes nothing
    assert log.merge(_alert("a", 10.0, 25.0)) == _alert("a", 10.0, 25.0)
    assert len(log) == 1 and log.ongoing() == []
    # the back-fill reply may carry the start after the live end already arrived
    assert log.merge(_alert("a", 10.0)) is None
    assert log.alerts() == [_alert("a", 10.0, 25.0)]


def test_the_log_is_bounded_and_drops_the_oldest_ended_first() -> None:
    log = AlertLog(limit=3)
    log.merge(_alert("ongoing", 1.0))
    for i in range(5):
        log.merge(_alert("e%d" % i, 10.0 + i, 11.0 + i))
    assert [a.id for a in log.alerts()] == ["ongoing", "e3", "e4"]
    assert [a.id for a in log.between(13.5, 20.0)] == ["ongoing", "e3", "e4"]
    assert [a.id for a in log.between(14.5, 20.0)] == ["ongoing", "e4"]


def test_words_for_people() -> None:
    assert kind_label("thermal_throttle") == "Thermal throttling" and kind_label("new_kind") == "New kind"
    assert severity_label("critical") == "Critical"


def test_threshold_assignments_and_their_errors() -> None:
    base = AlertThresholds(zone_limits_c={"tj": 90.0})
    changed = apply_assignments(base, ["temperature_warning_c=70", "zone.GPU=80", "zone.tj=", "hold_s=0"])
    assert changed.temperature_warning_c == 70.0 and changed.hold_s == 0.0
    assert changed.zone_limits_c == {"GPU": 80.0}
    cases = {
        "speed=3": "Unknown threshold 'speed'",
        "hold_s": "is not KEY=VALUE",
        "hold_s=soon": "hold_s must be a number, not 'soon'",
        "hold_s=nan": "must be a finite number",
        "temperature_warning_c=99": "must be below temperature critical",
        "busy_load_pct=120": "Busy load must be between 0 and 100 %",
        "zone.GPU=97": "is a warning limit and must be below temperature critical",
    }
    for item, message in cases.items():
        with pytest.raises(ThresholdError, match=message):
            apply_assignments(base, [item])
    assert validate(AlertThresholds()) == []


@pytest.fixture
def board_env(console_env: ConsoleEnv) -> ConsoleEnv:
    """The local device's daemon, reading the Orin Nano fixture's thermal zones (44-48 °C)."""
    start_daemon(str(console_env.local_socket), str(console_env.local_root),
                 ["--rate", "10", "--sys-root", str(BOARDS / "orin-nano" / "sys")])
    return console_env


@pytest.fixture
def core(board_env: ConsoleEnv) -> Iterator[ConsoleCore]:
    core = ConsoleCore(board_env)
    yield core
    core.close()


def test_feed_gets_live_starts_and_ends_and_a_new_console_back_fills_them(core: ConsoleCore,
                                                                           board_env: ConsoleEnv) -> None:
    session = core.session("local")
    session.connect()
    feed = AlertFeed(session)
    updates: queue.Queue[AlertEvent] = queue.Queue()
    feed.listeners.append(updates.put)
    assert feed.start() == 0  # 48 °C is under the default 85 °C: nothing yet
    set_thresholds(session, AlertThresholds(temperature_warning_c=47.0, hold_s=0.0))
    started = updates.get(timeout=10)
    assert started.kind == "temperature" and started.end is None and started.metric is not None
    assert started.metric.startswith("temp.") and started.value is not None and started.value >= 47.0
    set_thresholds(session, AlertThresholds(hold_s=0.0))  # back to 85 °C: every alert ends
    while True:
        ended = updates.get(timeout=10)
        if ended.id == started.id:
            break
    assert ended.end is not None and ended.end >= ended.start
    entry = next(a for a in feed.log.alerts() if a.id == started.id)
    assert entry.end == ended.end
    other = ConsoleCore(board_env)  # a console that connects later sees the same history
    try:
        late = AlertFeed(other.session("local"))
        other.session("local").connect()
        assert late.start() >= 1
        assert next(a for a in late.log.alerts() if a.id == started.id).end == ended.end
    finally:
        other.close()


def test_the_device_refuses_bad_thresholds_in_words_and_keeps_the_old_ones(core: ConsoleCore) -> None:
    session = core.session("local")
    session.connect()
    before = get_thresholds(session)
    with pytest.raises(ThresholdError, match="must be below temperature critical"):
        set_thresholds(session, AlertThresholds(temperature_warning_c=99.0))
    with pytest.raises(DeviceError) as refused:  # past the console's own check: the device says no too
        session.request("alerts.thresholds.set", AlertThresholds(temperature_warning_c=99.0))
    assert refused.value.code == ErrorCode.BAD_FIELD and "nothing was changed" in str(refused.value)
    assert get_thresholds(session) == before
