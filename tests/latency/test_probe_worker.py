"""The probe's child process on its own (real ONNX Runtime, the demo model) and its death seen
from a real daemon: batched readings still carry every inference with its wall-clock time, a
pause sends what was measured before it, and a crash after loading is reported."""

from __future__ import annotations

import itertools
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from device_runtime.demo_model import DEMO_NAME, INPUT_SHAPE, write_demo_model
from device_runtime.protocol import PROBE_FAILED, ProbeSettings
from tests.support.daemons import RunningDaemon
from tests.support.probe import DEMO_SHAPES, ProbeHarness


class Worker:
    def __init__(self, model: str, rate_hz: float) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "device_runtime.latency.probe_worker"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.send({"path": model, "backend": "onnxruntime", "rate_hz": rate_hz, "paused": False,
                   "inputs": [{"name": "image", "dtype": "float32", "shape": list(INPUT_SHAPE)}]})
        self.width = 0  # values a reading takes: its end and one per stage, once ready named the stages

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        self.proc.stdin.flush()

    def line(self, seconds: float = 60.0) -> dict[str, Any] | None:
        """The next line, or None when none came within ``seconds``."""
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], seconds)
        if not ready:
            return None
        text = self.proc.stdout.readline()
        assert text, "the worker ended its output"
        if text.startswith(b"R "):  # readings: the wall-clock offset, then the end and each stage per inference
            offset, *values = map(float, text[2:].split())
            width = self.width
            assert width and len(values) % width == 0
            return {"r": [[values[i] + offset, *values[i + 1:i + width]] for i in range(0, len(values), width)]}
        message = json.loads(text)
        assert isinstance(message, dict)
        if "ready" in message:
            self.width = 1 + len(message["ready"]["stages"])
        return message


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Worker]:
    w = Worker(write_demo_model(str(tmp_path / "demo.onnx")), 20.0)
    yield w
    if w.proc.poll() is None:
        w.proc.kill()
        w.proc.wait()


def test_batches_carry_every_inference_with_its_wall_clock_time(worker: Worker) -> None:
    first = worker.line()
    assert first is not None and first["ready"]["provider"] == "CPUExecutionProvider"
    assert first["ready"]["stages"] == ["total"]  # ONNX Runtime: the model's time is the end-to-end time
    readings: list[list[float]] = []
    lines = 0
    began = time.time()
    while time.time() - began < 3.0:
        message = worker.line()
        assert message is not None and set(message) == {"r"}
        readings.extend(message["r"])
        lines += 1
    assert lines <= 5  # about one line a second, not one per inference
    times = [t for t, _ in readings]
    assert all(b > a for a, b in itertools.pairwise(times))
    assert began - 1.0 < times[0] and times[-1] <= time.time()
    gaps = sorted(b - a for a, b in itertools.pairwise(times))
    assert 0.03 < gaps[len(gaps) // 2] < 0.07  # 20 Hz on the rate's grid
    assert all(0 < total < 1.0 for _, total in readings)

    worker.send({"pause": True})
    pause_sent = time.time()
    while (message := worker.line(1.5)) is not None:
        readings.extend(message["r"])
    # What was measured before the pause came at once, not at the next second; nothing ran after.
    assert pause_sent - 0.3 < readings[-1][0] < pause_sent + 0.3
    paused_at = time.time()
    worker.send({"pause": False, "rate": 5.0})
    resumed = worker.line()
    assert resumed is not None and all(t > paused_at for t, _ in resumed["r"])
    assert worker.proc.stdin is not None
    worker.proc.stdin.close()
    assert worker.proc.wait(timeout=30) == 0


@pytest.fixture
def harness(daemon: RunningDaemon, tmp_path: Path) -> Iterator[ProbeHarness]:
    h = ProbeHarness(daemon, tmp_path)
    yield h
    h.close()


def test_a_probe_process_that_dies_after_loading_is_reported(harness: ProbeHarness, daemon: RunningDaemon) -> None:
    harness.deploy_demo("1.0.0")
    harness.session.request("probe.set", ProbeSettings(DEMO_NAME, 10.0, DEMO_SHAPES))
    harness.wait_status(lambda s: s.provider is not None)
    harness.wait_window(lambda w: w.source == "probe:" + DEMO_NAME and w.count > 0)
    (child,) = [p for p in psutil.Process(daemon.pid).children() if "probe_worker" in " ".join(p.cmdline())]
    os.kill(child.pid, 9)
    failed = harness.wait_status(lambda s: s.state == PROBE_FAILED, seconds=10.0)
    assert "was killed by signal 9" in failed.reason and "set the probe again to retry" in failed.reason
