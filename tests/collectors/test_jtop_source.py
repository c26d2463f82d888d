"""JtopCollector against a stand-in jtop client replaying a stats dict recorded from a Jetson."""

from __future__ import annotations

from typing import Any

import pytest

from device_runtime.collectors.jtop_source import JtopCollector, stats_values

# Shape and values of jtop's ``stats`` as printed in rbonghi/jetson_stats#81 (Xavier, JetPack 4).
RECORDED: dict[str, Any] = {
    "time": "2020-09-03 10:28:30.003209", "uptime": "22:47:52.710000", "jetson_clocks": "OFF",
    "nvp model": "MAXN", "CPU1": 5, "CPU2": 3, "GPU": 0, "RAM": 1745160, "EMC": 1745160, "SWAP": 0,
    "APE": 150, "NVENC": "OFF", "fan": 0.0, "Temp GPU": 46.0, "Power cur": 4859, "Power avg": 4899,
}


class FakeJtop:
    def __init__(self, log: list[str], alive: list[bool]) -> None:
        self.log, self.alive = log, alive
        self.stats = dict(RECORDED)

    def start(self) -> None:
        self.log.append("start")

    def is_alive(self) -> bool:
        return self.alive[0]

    def close(self) -> None:
        self.log.append("close")


def test_stats_become_prefixed_metrics() -> None:
    assert stats_values(RECORDED) == {"jtop.gpu.load": 0.0, "jtop.emc.load": 1745160.0,
                                      "jtop.power.cur": 4859.0, "jtop.power.avg": 4899.0}


def test_service_death_is_absent_and_retried() -> None:
    log: list[str] = []
    alive = [True]
    now = [0.0]
    collector = JtopCollector(factory=lambda: FakeJtop(log, alive), clock=lambda: now[0], retry_after=30.0)
    assert collector.collect()["jtop.power.cur"] == 4859.0
    assert collector.state() == {"jetson_clocks": "off", "power_mode": "MAXN"}
    alive[0] = False
    assert collector.collect() == {}
    assert "lost the jtop service" in collector.absent()["jtop"]
    alive[0] = True
    now[0] = 10.0
    assert collector.collect() == {}  # too soon to reconnect
    now[0] = 31.0
    assert collector.collect()["jtop.gpu.load"] == 0.0
    assert log == ["start", "close", "start"]
    collector.close()


def test_service_not_running_is_absent() -> None:
    def factory() -> Any:
        raise RuntimeError("The jtop.service is not active")

    collector = JtopCollector(factory=factory)
    assert collector.metrics() == [] and collector.collect() == {}
    assert "not active" in collector.absent()["jtop"]


def test_the_hub_keeps_sampling_the_board_when_the_jtop_service_dies(tmp_path: Any) -> None:
    """jtop sits beside the sysfs collectors: when its service dies, every sample still carries the
    board's own readings, jtop's series go absent, and device.state says why."""
    import shutil
    from pathlib import Path

    from device_runtime.alerts.device_state import device_state
    from device_runtime.collectors.tegra import TegraCollector
    from device_runtime.collectors.thermal import ThermalCollector
    from device_runtime.server.telemetry import TelemetryHub

    root = tmp_path / "orin-nano"
    shutil.copytree(Path(__file__).resolve().parents[1] / "fixtures" / "boards" / "orin-nano", root)
    log: list[str] = []
    alive = [True]
    now = [0.0]
    jtop = JtopCollector(factory=lambda: FakeJtop(log, alive), clock=lambda: now[0], retry_after=30.0)
    tegra = TegraCollector(str(root / "sys"), str(root / "proc"), str(root / "etc"), str(root / "var"))
    collectors = [ThermalCollector(str(root / "sys")), tegra, jtop]
    hub = TelemetryHub(collectors, base_rate_hz=10.0, clock=lambda: now[0])
    samples: list[dict[str, float]] = []
    hub.sample_listeners.append(lambda t, values: samples.append(values))
    gpu_load = root / "sys/devices/platform/bus@0/17000000.gpu/load"
    for step in range(30):  # 3 s at 10 Hz; the service dies after 1 s
        now[0] = step / 10.0
        alive[0] = step < 10
        gpu_load.write_text("%d\n" % (step * 10))  # the board's GPU load changes every tick
        hub.tick(now[0])
    assert len(samples) == 30
    assert all("jtop.power.cur" in s for s in samples[:10]) and not any("jtop.power.cur" in s for s in samples[10:])
    # The sysfs reading is fresh in every tick, before and after jtop died: jtop is never the 10 Hz source.
    assert [s["jetson.gpu.load"] for s in samples] == [pytest.approx(step * 1.0) for step in range(30)]
    assert all("temp.tj-thermal" in s and "power.vdd_in" in s for s in samples)
    state = device_state(collectors, samples[-1])
    jtop_status = next(c for c in state.collectors if c.name == "jtop")
    assert not jtop_status.active and "lost the jtop service" in jtop_status.absent["jtop"]
    assert next(c for c in state.collectors if c.name == "tegra").active
    hub.close()


def test_a_refused_socket_names_the_group_fix() -> None:
    def factory() -> Any:
        raise RuntimeError("I can't access jtop.service.\nPlease logout or reboot this board.")  # jtop's own words

    collector = JtopCollector(factory=factory, clock=lambda: 0.0)
    assert collector.absent() == {"jtop": "jtop service unavailable: I can't access jtop.service. Please logout or "
                                          "reboot this board. (its socket /run/jtop.sock is root:jtop 0660: sudo "
                                          "usermod -aG jtop edge-runtime, then restart edge-runtime)"}
