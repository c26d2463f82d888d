"""QtOptimizePipeline relays a core run's events onto the GUI thread, and only the run it follows.

A real local runtime; the runs are the core ModelCheck objects the Optimize page starts.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from console.core.optimize.benchmarks import BenchmarkBook
from console.core.optimize.pipeline import ModelCheck, PipelineEvent, Submitted, Validated
from console.ui.devices.qt_session import QtSession
from console.ui.jobs.qt_jobs import QtJobs
from console.ui.optimize.qt_pipeline import QtOptimizePipeline
from device_runtime.demo_model import write_demo_model

pytestmark = pytest.mark.gui


@pytest.fixture
def jobs(qtbot: QtBot, local_model: QtSession, tmp_path: Path) -> Iterator[QtJobs]:
    model = QtJobs(local_model, BenchmarkBook(tmp_path / "bench.jsonl"))
    local_model.connect_device()
    qtbot.waitUntil(lambda: model.tracker.attached, timeout=30_000)
    yield model
    model.close()


def test_events_arrive_on_the_gui_thread_and_a_replaced_run_says_nothing_more(
        qtbot: QtBot, jobs: QtJobs, tmp_path: Path) -> None:
    good = Path(write_demo_model(str(tmp_path / "detector.onnx")))
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"this is not a protobuf")
    relay = QtOptimizePipeline()
    heard: list[tuple[PipelineEvent, bool]] = []
    relay.happened.connect(lambda event: heard.append((event, threading.current_thread() is threading.main_thread())))

    first = ModelCheck(jobs.tracker, str(good))
    relay.start(first)
    second = ModelCheck(jobs.tracker, str(broken))
    relay.start(second)  # the person picked another file at once
    assert relay.active and relay.pipeline is second
    qtbot.waitUntil(lambda: any(isinstance(e, Validated) for e, _ in heard), timeout=60_000)
    assert not relay.active
    assert all(on_gui for _, on_gui in heard)
    done = [e for e, _ in heard if isinstance(e, Validated)]
    assert len(done) == 1
    report = done[0].report
    assert report is None or not report.ok
    assert str(broken) in done[0].text
    submitted = [e for e, _ in heard if isinstance(e, Submitted)]
    assert [e.job_ids for e in submitted] == [second.job_ids]  # nothing of the first run
    assert first.finished is None  # closed: it stopped following its job
    relay.deleteLater()
