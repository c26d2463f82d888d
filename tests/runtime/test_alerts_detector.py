"""The alert detector on recorded readings: the H100 capture and the Jetson board trees."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from device_runtime import protocol as p
from device_runtime.alerts.detector import AlertDetector
from device_runtime.alerts.history import AlertHistory
from device_runtime.alerts.service import collector_context
from device_runtime.alerts.thresholds import problems
from device_runtime.collectors.tegra import TegraCollector
from device_runtime.collectors.thermal import ThermalCollector

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BOARDS = FIXTURES / "boards"
H100 = json.loads((FIXTURES / "nvml" / "h100_load.json").read_text())
# The whole daemon on the same H100 under the same load, as a console received it (bench/gpu_daemon_under_load.py).
H100_DAEMON = json.loads((FIXTURES / "nvml" / "h100_daemon_alerts.json").read_text())


def replay(detector: AlertDetector, readings: list[tuple[float, dict[str, float]]]) -> list[p.AlertEvent]:
    events = []
    for t, values in readings:
        events += detector.feed(t, values)
    return events


def test_h100_capture_yields_one_power_cap_alert_that_starts_and_ends() -> None:
    readings = [(r["t"], r["values"]) for r in H100["readings"]]
    events = replay(AlertDetector(p.AlertThresholds(hold_s=2.0)), readings)
    assert [(e.kind, e.end is None) for e in events] == [("power_cap", True), ("power_cap", False)]
    started, ended = events
    assert started.id == ended.id and started.source == "gpu0" and "software power cap" in started.message
    load = [r for r in H100["readings"] if int(r["values"]["gpu.0.throttle_reasons"]) & 0x4]
    # The alert spans the capped stretch of the load phase, from its first to just past its last reading.
    assert started.start == load[0]["t"]
    assert load[-1]["t"] < ended.end <= load[-1]["t"] + 1.5  # type: ignore[operator]
    assert ended.metric == "gpu.0.power" and ended.threshold == pytest.approx(700.0)
    assert ended.value == max(r["values"]["gpu.0.power"] for r in load)  # the worst draw seen
    # The cap lifts half a second after the matmul loop stops, as the power draw falls.
    assert {r["phase"] for r in load} == {"load", "cool"} and ended.end < H100["readings"][-1]["t"]


def test_the_daemon_on_a_real_h100_pushed_the_power_cap_as_one_alert_with_start_and_end() -> None:
    samples = H100_DAEMON["samples"]
    capped = [s for s in samples if int(s["values"]["gpu.0.throttle_reasons"]) & 0x4]
    started, ended = (p.AlertEvent.from_wire({k: v for k, v in a.items() if k not in ("phase", "at")})
                      for a in H100_DAEMON["alerts"])
    assert (started.kind, started.end, ended.kind) == ("power_cap", None, "power_cap") and started.id == ended.id
    assert started.start == capped[0]["device_t"]  # stamped with the first capped sample, not when it was noticed
    after = [s["device_t"] for s in samples if s["device_t"] > capped[-1]["device_t"]]
    assert ended.end == after[0]  # the first sample without the cap
    # The detector, fed the samples the daemon streamed, finds exactly what the daemon pushed.
    replayed = replay(AlertDetector(p.AlertThresholds()), [(s["device_t"], s["values"]) for s in samples])
    assert [(e.kind, e.start, e.end) for e in replayed] == [(a.kind, a.start, a.end) for a in (started, ended)]


def test_short_blips_shorter_than_hold_never_become_alerts() -> None:
    detector = AlertDetector(p.AlertThresholds(hold_s=2.0))
    capped = {"gpu.0.throttle_reasons": 4.0}
    assert replay(detector, [(0.0, capped), (1.0, capped), (1.5, {"gpu.0.throttle_reasons": 0.0})]) == []
    assert replay(detector, [(t, capped) for t in (10.0, 11.0, 12.0)])[0].start == 10.0


@pytest.mark.parametrize(("mask", "kind", "severity"), [
    (0x20, "thermal_throttle", "warning"), (0x40, "thermal_throttle", "critical"),
    (0x8, "thermal_throttle", "critical"), (0x80, "power_cap", "critical"), (0x4, "power_cap", "warning"),
])
def test_nvml_throttle_bits(mask: int, kind: str, severity: str) -> None:
    detector = AlertDetector(p.AlertThresholds(hold_s=0.0))
    (event,) = detector.feed(0.0, {"gpu.1.throttle_reasons": float(mask), "gpu.1.temp": 70.0})
    assert (event.kind, event.severity, event.source) == (kind, severity, "gpu1")


def test_idle_and_clock_setting_bits_are_not_alerts() -> None:
    detector = AlertDetector(p.AlertThresholds(hold_s=0.0))
    assert detector.feed(0.0, {"gpu.0.throttle_reasons": float(0x1 | 0x2 | 0x10 | 0x100)}) == []


def board(name: str, tmp_path: Path | None = None) -> tuple[Path, TegraCollector, ThermalCollector]:
    root = BOARDS / name
    if tmp_path is not None:
        root = tmp_path / name
        shutil.copytree(BOARDS / name, root)
    tegra = TegraCollector(str(root / "sys"), str(root / "proc"), str(root / "etc"), str(root / "var"))
    return root, tegra, ThermalCollector(str(root / "sys"))


def sample(*collectors: TegraCollector | ThermalCollector) -> dict[str, float]:
    values: dict[str, float] = {}
    for collector in collectors:
        values.update(collector.collect())
    return values


def test_orin_nx_soak_tree_raises_temperature_warnings_but_not_clock_alerts() -> None:
    _, tegra, thermal = board("orin-nx-16gb")
    labels, trips = collector_context([tegra, thermal])
    detector = AlertDetector(p.AlertThresholds(hold_s=0.0), labels, trips)
    events = detector.feed(0.0, sample(tegra, thermal))
    assert {(e.kind, e.severity, e.source) for e in events} == {
        ("temperature", "warning", zone) for zone in ("cpu-thermal", "gpu-thermal", "soc0-thermal", "tj-thermal")}
    # GPU 99.5 % busy at its 918 MHz cap: not held below its maximum.
    assert all(e.kind != "clocks_below_max" for e in events)
    tegra.close()
    thermal.close()


def test_zone_limits_override_the_warning_per_zone_type() -> None:
    _, tegra, thermal = board("orin-nx-16gb")
    labels, trips = collector_context([tegra, thermal])
    detector = AlertDetector(p.AlertThresholds(hold_s=0.0, zone_limits_c={"tj-thermal": 95.0, "gpu-thermal": 80}),
                             labels, trips)
    sources = {e.source: e.threshold for e in detector.feed(0.0, sample(tegra, thermal))}
    assert "tj-thermal" not in sources and sources["gpu-thermal"] == 80.0 and sources["cpu-thermal"] == 85.0
    tegra.close()
    thermal.close()


def test_agx_orin_passive_trip_point_means_thermal_throttling(tmp_path: Path) -> None:
    root, tegra, thermal = board("agx-orin", tmp_path)
    labels, trips = collector_context([tegra, thermal])
    assert trips["temp.cpu-thermal"] == {"passive": 99.0, "critical": 104.5}  # upstream Tegra234 device tree
    detector = AlertDetector(p.AlertThresholds(hold_s=0.0, temperature_critical_c=110.0,
                                               temperature_warning_c=105.0), labels, trips)
    assert detector.feed(0.0, sample(tegra, thermal)) == []
    (root / "sys/class/thermal/thermal_zone0/temp").write_text("99500\n")  # cpu-thermal over its passive trip
    (event,) = detector.feed(1.0, sample(tegra, thermal))
    assert (event.kind, event.source, event.threshold, event.value) == ("thermal_throttle", "cpu-thermal", 99.0, 99.5)
    (root / "sys/class/thermal/thermal_zone0/temp").write_text("60000\n")
    (ended,) = detector.feed(2.0, sample(tegra, thermal))
    assert ended.id == event.id and ended.end == 2.0
    tegra.close()
    thermal.close()


def test_nano_gpu_held_below_its_cap_while_busy(tmp_path: Path) -> None:
    # The Nano tree: GPU 28 % busy at 76.8 of 921.6 MHz.
    root, tegra, thermal = board("jetson-nano", tmp_path)
    detector = AlertDetector(p.AlertThresholds(hold_s=0.0))
    assert [e.kind for e in detector.feed(0.0, sample(tegra))] == []  # 28 % is not busy at the default 50 %
    detector.thresholds = p.AlertThresholds(hold_s=0.0, busy_load_pct=25.0)
    (event,) = detector.feed(1.0, sample(tegra))
    assert (event.kind, event.metric, event.value) == ("clocks_below_max", "jetson.gpu.freq", 76.8)
    assert event.threshold == pytest.approx(921.6 * 0.9)
    load = root / "sys/devices/gpu.0/load"
    load.write_text("100\n")  # 10 %: idle again, the alert ends
    assert [e.end for e in detector.feed(2.0, sample(tegra))] == [2.0]
    tegra.close()
    thermal.close()


def test_busy_cpu_cores_below_their_cap() -> None:
    # AGX Orin tree: every core at 729.6 of 2201.6 MHz; loads come from /proc/stat on a device.
    _, tegra, thermal = board("agx-orin")
    values = sample(tegra)
    values.update({f"cpu.core.{i}.load": 90.0 if i in (3, 7) else 5.0 for i in range(12)})
    (event,) = AlertDetector(p.AlertThresholds(hold_s=0.0)).feed(0.0, values)
    assert event.kind == "clocks_below_max" and event.source == "cpu"
    assert "(3, 7)" in event.message and event.value == pytest.approx(729.6)
    tegra.close()
    thermal.close()


def test_clocks_pinned_by_jetson_clocks_are_at_max() -> None:
    _, tegra, thermal = board("agx-xavier")
    values = sample(tegra)
    values.update({"jetson.gpu.load": 100.0, **{f"cpu.core.{i}.load": 100.0 for i in range(8)}})
    assert AlertDetector(p.AlertThresholds(hold_s=0.0)).feed(0.0, values) == []
    tegra.close()
    thermal.close()


def test_pmic_die_placeholder_never_alerts() -> None:
    # Xavier and Nano expose "PMIC-Die" at a fixed 100 °C.
    _, tegra, thermal = board("agx-xavier")
    labels, trips = collector_context([tegra, thermal])
    values = sample(thermal)
    assert values["temp.pmic-die"] == 100.0
    assert AlertDetector(p.AlertThresholds(hold_s=0.0), labels, trips).feed(0.0, values) == []
    tegra.close()
    thermal.close()


def test_over_current_counter_steps_are_power_cap_events(tmp_path: Path) -> None:
    root, tegra, thermal = board("orin-nano", tmp_path)
    detector = AlertDetector(p.AlertThresholds(hold_s=1.0))
    assert detector.feed(0.0, sample(tegra)) == []  # counts since boot (1, 0, 2) are history, not news
    (root / "sys/class/hwmon/hwmon3/oc3_event_cnt").write_text("5\n")
    (event,) = detector.feed(0.1, sample(tegra))  # an event starts at once, without waiting hold_s
    assert (event.kind, event.severity, event.source) == ("power_cap", "critical", "oc3")
    assert "instantaneous over-current" in event.message and "3 new" in event.message
    assert detector.feed(0.5, sample(tegra)) == []
    assert detector.feed(1.3, sample(tegra)) == []  # clear for 0.8 s of the 1 s hold
    (ended,) = detector.feed(1.6, sample(tegra))
    assert ended.end == 0.5
    tegra.close()
    thermal.close()


def test_current_alarm_flag(tmp_path: Path) -> None:
    root, tegra, thermal = board("orin-nano", tmp_path)
    labels, _ = collector_context([tegra])
    detector = AlertDetector(p.AlertThresholds(hold_s=0.0), labels)
    assert detector.feed(0.0, sample(tegra)) == []
    (root / "sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon1/curr1_crit_alarm").write_text("1\n")
    (event,) = detector.feed(1.0, sample(tegra))
    assert (event.kind, event.severity, event.source) == ("power_cap", "critical", "VDD_IN")
    tegra.close()
    thermal.close()


def test_warning_and_critical_are_separate_alerts() -> None:
    detector = AlertDetector(p.AlertThresholds(hold_s=0.0))
    events = detector.feed(0.0, {"gpu.0.temp": 97.0})
    assert sorted((e.severity, e.threshold) for e in events) == [("critical", 95.0), ("warning", 85.0)]
    (ended,) = detector.feed(1.0, {"gpu.0.temp": 90.0})
    assert ended.severity == "critical" and ended.value == 97.0
    assert [a.severity for a in detector.active()] == ["warning"]


def test_absent_sensors_and_powered_off_ones_are_not_hot() -> None:
    detector = AlertDetector(p.AlertThresholds(hold_s=0.0))
    assert detector.feed(0.0, {"temp.gpu": -256.0}) == []  # Orin: sensor powered off


@pytest.mark.parametrize(("change", "words"), [
    ({"temperature_warning_c": 100.0}, "must be below temperature_critical_c"),
    ({"temperature_critical_c": 500.0}, "from -40 to 150"),
    ({"zone_limits_c": {"tj-thermal": 99.0}}, "must be below temperature_critical_c"),
    ({"zone_limits_c": {" ": 50.0}}, "empty zone name"),
    ({"clocks_below_max_pct": 0.0}, "above 0 and at most 100"),
    ({"busy_load_pct": 120.0}, "from 0 to 100"),
    ({"hold_s": -1.0}, "0 to 3600 seconds"),
])
def test_threshold_problems_say_what_to_change(change: dict[str, object], words: str) -> None:
    found = problems(p.AlertThresholds(**change))  # type: ignore[arg-type]
    assert len(found) == 1 and words in found[0]
    assert problems(p.AlertThresholds()) == []


def test_history_is_bounded_and_answers_since() -> None:
    history = AlertHistory(max_alerts=3, max_age_s=100.0)
    for i in range(5):
        history.record(p.AlertEvent(f"a{i}", "temperature", "warning", "x", "m", start=float(i), end=float(i) + 0.5),
                       now=float(i))
    history.record(p.AlertEvent("live", "power_cap", "warning", "gpu0", "m", start=4.5), now=5.0)
    assert [a.id for a in history.list()] == ["a3", "a4", "live"]
    assert [a.id for a in history.list(since=4.2)] == ["a4", "live"]
    history.record(p.AlertEvent("late", "power_cap", "warning", "gpu0", "m", start=300.0, end=301.0), now=301.0)
    assert [a.id for a in history.list()] == ["live", "late"]  # ended more than max_age_s ago: dropped
