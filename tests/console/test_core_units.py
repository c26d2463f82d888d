"""Settings, registry, ring buffers and the client protocol, without a device."""

from __future__ import annotations

import json

import numpy as np
import pytest

from console.core.devices.client import (
    ClientProtocol,
    DeviceError,
    IncompatibleRuntime,
    Reply,
    check_welcome,
    checked_result,
)
from console.core.devices.registry import DeviceRegistry, UnknownDevice
from console.core.env import ConsoleEnv
from console.core.settings import DeviceEntry, Settings, SettingsError, load_settings, save_settings
from console.core.telemetry.metrics import TelemetryStore
from device_runtime import protocol as p


def test_settings_round_trip_and_version_guard(tmp_path) -> None:
    path = tmp_path / "s.json"
    settings = Settings(devices=[DeviceEntry("robot-07", host="10.0.0.7", user="nvidia", port=22)])
    save_settings(path, settings)
    assert load_settings(path) == settings
    path.write_text(json.dumps({"version": 99}))
    with pytest.raises(SettingsError, match="newer than this console"):
        load_settings(path)
    assert load_settings(tmp_path / "missing.json") == Settings()


def test_registry_keeps_local_first_and_persists(console_env: ConsoleEnv) -> None:
    reg = DeviceRegistry(console_env)
    reg.add(DeviceEntry("robot-07", host="h"))
    assert [d.name for d in DeviceRegistry(console_env).devices()] == ["local", "robot-07"]
    with pytest.raises(ValueError):
        reg.remove("local")
    reg.remember_page("local", "dashboard")
    assert DeviceRegistry(console_env).get("local").last_page == "dashboard"
    reg.remove("robot-07")
    with pytest.raises(UnknownDevice):
        DeviceRegistry(console_env).get("robot-07")


def _specs(n: int) -> list[p.MetricSpec]:
    return [p.MetricSpec("m%d" % i, "m%d" % i, "%", "G", "C") for i in range(n)]


def test_ring_keeps_the_newest_and_absent_values_are_nan() -> None:
    store = TelemetryStore(_specs(2), capacity=10, decimated_capacity=4, decimate_s=5)
    for i in range(25):
        values = {"m0": float(i)} if i % 2 else {"m0": float(i), "m1": 1.0}
        assert store.add(float(i), values, seq=i)
    t, v = store.series("m0")
    assert list(t) == [float(i) for i in range(15, 25)]
    assert list(v) == [float(i) for i in range(15, 25)]
    _, v1 = store.series("m1")
    assert np.isnan(v1[::2]).all() or np.isnan(v1[1::2]).all()
    assert not store.add(3.0, {"m0": 1.0})  # out of order (back-fill overlap) is dropped
    assert store.latest("m0") == 24.0


def test_long_windows_use_the_decimated_ring_with_peaks() -> None:
    store = TelemetryStore(_specs(1), capacity=10, decimated_capacity=100, decimate_s=5)
    for i in range(60):
        store.add(float(i), {"m0": 100.0 if i == 7 else 1.0})
    t, v = store.series("m0", window_s=60, now=60)
    assert t[0] < 50 and 100.0 in v  # the spike at t=7 survives decimation
    assert list(t) == sorted(t)


def test_store_memory_is_fixed() -> None:
    store = TelemetryStore(_specs(40))
    before = store.memory_bytes()
    for i in range(1000):
        store.add(float(i), {"m%d" % j: float(j) for j in range(40)})
    assert store.memory_bytes() == before


def test_client_protocol_pairs_replies_and_events() -> None:
    proto = ClientProtocol()
    hello_id, frame = proto.hello()
    assert p.decode(frame) == p.Hello(hello_id, p.PROTOCOL_VERSION, "edge-console/0.1.0", p.MIN_PROTOCOL_VERSION,
                                      proto.ids.token)
    req_id, _ = proto.request("ping")
    stream = (p.encode(p.Event("telemetry.sample", {"t": 1.0, "seq": 1, "values": {}}))
              + p.encode(p.Response(req_id, {"t": 2.0})) + b"junk\n"
              + p.encode(p.ErrorReply("x", "bad", None)))
    items = proto.feed(stream[:10]) + proto.feed(stream[10:])
    assert isinstance(items[0], p.Event)
    assert isinstance(items[1], Reply) and items[1].request_id == req_id
    assert isinstance(items[2], p.ProtocolError) and isinstance(items[3], p.ProtocolError)


def test_a_typed_call_checks_the_reply_once_and_names_a_mismatch() -> None:
    pong = p.Pong(2.0)
    assert checked_result(p.PING, pong) is pong
    with pytest.raises(DeviceError, match=r"answered store\.models with a Pong record where a StoreModels was "
                                          r"expected.*update the older one") as raised:
        checked_result(p.STORE_MODELS, pong)
    assert raised.value.code == p.ErrorCode.BAD_FIELD


def test_console_refuses_a_runtime_too_old() -> None:
    caps = p.Capabilities("h", "m", "os", "x", "3.8", 1, 1.0)
    with pytest.raises(IncompatibleRuntime, match="update the runtime"):
        check_welcome(p.Welcome(1, 0, "0.0.1", caps))
