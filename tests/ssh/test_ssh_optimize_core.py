"""The Optimize model check and pipeline on an SSH device (a real sshd and runtime), without Qt.

The files picked on this computer go to the device first, as steps of their own with bytes and
percent; the jobs read the device's copies; a cancel while the calibration data is on its way stops
the send (the device keeps what arrived) and nothing runs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from console.core.devices.session import DeviceSession, make_transport
from console.core.jobs.tracker import JobTracker
from console.core.optimize.pipeline import (
    RUNNING,
    SEND,
    SEND_CALIBRATION,
    SEND_MODEL,
    Finished,
    ModelCheck,
    OptimizePipeline,
    PipelineEvent,
    StepEvent,
    Submitted,
)
from console.core.optimize.plan import OptimizeChoice
from console.core.transfers.progress import SENDING, VERIFYING
from console.core.transfers.sending import FileStager
from device_runtime.demo_model import write_demo_model
from tests.support.ssh import SshWorld

SHAPES = {"image": [1, 3, 64, 64]}


@pytest.fixture
def tracker(ssh_world: SshWorld) -> Iterator[JobTracker]:
    ssh_world.trust(ssh_world.servers[0])
    entry = ssh_world.entry("robot")
    session = DeviceSession(entry, make_transport(entry, ssh_world.env), ssh_world.env.clock)
    session.connect()
    jobs = JobTracker(session)
    jobs.start()
    yield jobs
    jobs.close()
    session.close()


@pytest.fixture
def laptop(short_tmp: Path) -> Path:
    folder = short_tmp / "laptop"
    folder.mkdir()
    return folder


def _sends(events: list[PipelineEvent], tag: str) -> list[StepEvent]:
    return [e for e in events if isinstance(e, StepEvent) and e.kind == SEND and e.tag == tag]


@pytest.mark.timeout(600)
def test_the_model_and_calibration_are_sent_as_steps_then_the_int8_pipeline_runs(tracker: JobTracker,
                                                                                 laptop: Path) -> None:
    local = Path(write_demo_model(str(laptop / "detector.onnx")))
    calibration = laptop / "calib.npz"
    np.savez(calibration, image=np.random.default_rng(3).random((32, 3, 64, 64), dtype=np.float32))
    stager = FileStager(tracker.session)
    heard: list[tuple[str, str]] = []
    stager.progress_listeners.append(lambda tag, status: heard.append((tag, status.phase)))

    checked: list[PipelineEvent] = []
    check = ModelCheck(tracker, str(local), stager=stager, listener=checked.append)
    assert check.steps == 2 and check.opening() == "detector.onnx is validated on robot once it is there."
    done = check.run()
    assert done is not None and done.report is not None and done.report.ok, done
    assert done.model is not None and "/uploads/" in done.model and done.model.endswith("/detector.onnx")
    sent = _sends(checked, SEND_MODEL)
    assert sent[0].state == RUNNING and sent[0].text == "Sending the model detector.onnx to robot…"
    assert sent[-1].state == "succeeded" and sent[-1].step == 1 and sent[-1].steps == 2
    assert (SEND_MODEL, VERIFYING) in heard  # the stager's own listeners hear the same bytes

    events: list[PipelineEvent] = []
    pipeline = OptimizePipeline(tracker, OptimizeChoice(done.model, "int8", shapes=dict(SHAPES), seconds=0.5,
                                                        calibration=str(calibration)),
                                done.report, stager, listener=events.append)
    assert pipeline.steps == 5 and pipeline.opening() == "Sending the calibration data calib.npz to robot…"
    finished = pipeline.run()
    assert isinstance(finished, Finished) and finished.state == "succeeded", finished
    assert "Accuracy passed" in finished.text
    quantized = str(Path(done.model).parent / "detector.int8.onnx")
    assert finished.result == quantized and Path(quantized).exists()  # loopback: the device's files are ours
    calib = _sends(events, SEND_CALIBRATION)
    assert calib[-1].state == "succeeded" and calib[-1].step == 1 and calib[-1].percent == 100.0
    assert any(e.transfer is not None for e in calib)
    submitted = next(i for i, e in enumerate(events) if isinstance(e, Submitted))
    assert all(events.index(e) < submitted for e in calib)  # sent before any job was submitted
    job_steps = sorted({e.step for e in events if isinstance(e, StepEvent) and e.kind != SEND})
    assert job_steps == [2, 3, 4, 5]
    quantize = finished.jobs[1]
    assert quantize.kind == "quantize" and "/uploads/" in str(quantize.spec["calibration"])


@pytest.mark.timeout(300)
def test_cancel_while_the_calibration_data_is_on_its_way_stops_it_and_runs_nothing(tracker: JobTracker,
                                                                                  laptop: Path) -> None:
    model = Path(write_demo_model(str(laptop / "detector.onnx")))
    big = laptop / "big.npz"
    block = np.random.default_rng(7).bytes(1 << 20)
    with big.open("wb") as handle:
        for _ in range(64):
            handle.write(block)
    events: list[PipelineEvent] = []
    cancelled = threading.Event()
    holder: list[OptimizePipeline] = []

    def listen(event: PipelineEvent) -> None:
        events.append(event)
        if (isinstance(event, StepEvent) and event.tag == SEND_CALIBRATION and event.transfer is not None
                and event.transfer.phase == SENDING and not cancelled.is_set()):
            cancelled.set()
            holder[0].cancel()

    pipeline = OptimizePipeline(tracker, OptimizeChoice(str(model), "int8", shapes=dict(SHAPES),
                                                        calibration=str(big)),
                                model_on_device=False, listener=listen)
    holder.append(pipeline)
    assert pipeline.steps == 6  # the model, the calibration data, then four jobs
    jobs_before = len(tracker.refresh())
    finished = pipeline.run()
    assert cancelled.is_set()
    assert isinstance(finished, Finished) and finished.state == "cancelled", finished
    assert finished.text.startswith("Cancelled while sending big.npz; nothing ran on robot. Sending big.npz was "
                                    "stopped at "), finished.text
    assert "robot keeps what it received, and sending it again goes on from there." in finished.text
    assert not any(isinstance(e, Submitted) for e in events) and pipeline.job_ids == ()
    assert len(tracker.refresh()) == jobs_before
    assert _sends(events, SEND_MODEL)[-1].state == "succeeded"
    assert _sends(events, SEND_CALIBRATION)[-1].state == "failed"
