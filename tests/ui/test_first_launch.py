"""The first launch on the built-in device: the demo model deployed as a package signed by this
console's own key, the latency probe on, and Models and the latency chart alive within 30 s;
once per store, so a user who removes the demo model does not get it back."""

from __future__ import annotations

import time

import pytest
from pytestqt.qtbot import QtBot

from console.core.devices.first_launch import DEMO_KEY, needs_demo
from console.core.devices.keys import KeyStore
from console.core.telemetry.latency import get_probe
from console.ui.main_window import MainWindow
from device_runtime.demo_model import DEMO_NAME
from device_runtime.protocol import StoreModelRef, StoreVersions

pytestmark = pytest.mark.gui


def test_the_first_launch_deploys_the_signed_demo_model_and_turns_the_probe_on(
        qtbot: QtBot, window: MainWindow) -> None:
    started = time.monotonic()
    store = window.store_models["local"]
    dashboard = window.dashboard()
    assert dashboard is not None
    qtbot.waitUntil(lambda: DEMO_NAME in store.tracker.snapshot.models, timeout=30_000)
    qtbot.waitUntil(lambda: "probe:%s" % DEMO_NAME in dashboard.latency.store.sources(), timeout=30_000)
    assert time.monotonic() - started < 30.0
    entry = store.tracker.snapshot.models[DEMO_NAME]
    assert entry.versions.active == "1.0.0" and dashboard.latency_card is not None
    session = store.session_model.session
    versions = session.request("store.versions", StoreModelRef(DEMO_NAME))
    assert isinstance(versions, StoreVersions)
    (key,) = [k for k in KeyStore(window.core.env.config_dir / "keys").list() if k.name == DEMO_KEY]
    assert versions.versions[0].signer == key.key_id  # signed by this console's own key, not unsigned
    probe = get_probe(session)
    assert probe.model == DEMO_NAME and probe.rate_hz > 0
    assert not needs_demo(session)  # once per store
