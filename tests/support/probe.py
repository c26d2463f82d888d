"""A real daemon session for the probe tests: the demo model deployed through the store, and a
queue of pushed events to wait on."""

from __future__ import annotations

import queue
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from console.core.devices.session import DeviceSession
from console.core.models.packages import build_package
from console.core.models.store_client import StoreClient
from console.core.settings import DeviceEntry
from console.transport.local import LocalTransport
from device_runtime.demo_model import DEMO_NAME, INPUT_SHAPE, write_demo_model
from device_runtime.protocol import (
    TOPIC_LATENCY,
    TOPIC_PROBE,
    Event,
    LatencyWindow,
    LatencyWindows,
    ProbeStatus,
    StorePolicyUpdate,
)
from tests.support.daemons import RunningDaemon

DEMO_SHAPES = {"image": list(INPUT_SHAPE)}


class ProbeHarness:
    def __init__(self, daemon: RunningDaemon, tmp: Path) -> None:
        transport = LocalTransport(sys.executable, daemon.socket_path, daemon.root, demo=False)
        self.session = DeviceSession(DeviceEntry(name="t", kind="local"), transport, time.time)
        self.session.connect()
        self.session.request("store.policy.set", StorePolicyUpdate(policy="allow-unsigned", who="tests"))
        self.tmp = tmp
        self.store = StoreClient(self.session, "tests")
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.session.follow([TOPIC_LATENCY, TOPIC_PROBE], lambda e: self._put(e.topic, e), subscribe=True)

    def _put(self, topic: str, event: Event) -> None:
        record = LatencyWindows.from_wire(event.data) if topic == TOPIC_LATENCY else ProbeStatus.from_wire(event.data)
        self.events.put((topic, record))

    def deploy_demo(self, version: str) -> None:
        model = self.tmp / "demo.onnx"
        if not model.exists():
            write_demo_model(str(model))
        package = self.tmp / ("demo-%s.tar.gz" % version)
        build_package(model, package, DEMO_NAME, version, "tests")
        action = self.store.deploy(package)
        assert action.result == "committed", action.message

    def wait_window(self, match: Callable[[LatencyWindow], bool], seconds: float = 60.0) -> LatencyWindow:
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, "no latency window matched within %.0f s" % seconds
            try:
                topic, record = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            if topic == TOPIC_LATENCY:
                for window in record.windows:
                    if match(window):
                        return window

    def wait_status(self, match: Callable[[ProbeStatus], bool], seconds: float = 60.0) -> ProbeStatus:
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, "no probe status matched within %.0f s" % seconds
            try:
                topic, record = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            if topic == TOPIC_PROBE and match(record):
                return record

    def close(self) -> None:
        self.session.close()
