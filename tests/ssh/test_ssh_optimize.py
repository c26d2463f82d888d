"""The Optimize page on an SSH device (a real sshd and runtime): files picked on this computer are
sent to the device first, with progress in the page, a Stop that keeps what arrived and a resume;
then the jobs run on the device's copies; the Demo model action on a robot whose runtime has none."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from console.core.devices.session import DeviceSession, make_transport
from console.core.jobs.tracker import is_final
from console.core.transfers.progress import CHECKING, SENDING, VERIFYING, TransferStatus
from console.ui.devices.qt_session import QtSession
from console.ui.optimize.inputs import MODEL
from console.ui.optimize.page import OptimizePage
from device_runtime.demo_model import write_demo_model
from tests.support.optimize_page import open_optimize_page
from tests.support.ssh import SshWorld

pytestmark = pytest.mark.gui


@pytest.fixture
def page(qtbot: QtBot, ssh_world: SshWorld, short_tmp: Path) -> Iterator[OptimizePage]:
    ssh_world.trust(ssh_world.servers[0])
    entry = ssh_world.entry("robot")
    session = DeviceSession(entry, make_transport(entry, ssh_world.env), ssh_world.env.clock)
    model = QtSession(session, 2.0)
    yield from open_optimize_page(qtbot, model, short_tmp / "bench.jsonl")
    model.close()


def _laptop(short_tmp: Path) -> Path:
    folder = short_tmp / "laptop"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.mark.timeout(600)
def test_model_and_calibration_are_sent_then_the_int8_pipeline_runs_on_the_device(
        qtbot: QtBot, page: OptimizePage, short_tmp: Path, ssh_world: SshWorld) -> None:
    local = Path(write_demo_model(str(_laptop(short_tmp) / "detector.onnx")))
    calibration = _laptop(short_tmp) / "calib.npz"
    np.savez(calibration, image=np.random.default_rng(3).random((32, 3, 64, 64), dtype=np.float32))
    seen: list[tuple[str, TransferStatus]] = []
    page.model.files.progressed.connect(lambda tag, status: seen.append((tag, status)))

    page.choose_model(str(local))
    assert page.model_status.text() == "detector.onnx is validated on robot once it is there."
    assert not page.browse.isEnabled() and not page.path.isEnabled()
    qtbot.waitUntil(lambda: page.report is not None, timeout=60_000)
    report = page.report
    assert report is not None and report.ok
    # The job read the device's verified copy, under the runtime's uploads area, not the laptop's path.
    assert report.model != str(local) and "/uploads/" in report.model and report.model.endswith("/detector.onnx")
    assert Path(report.model).read_bytes() == local.read_bytes()  # loopback: the device's file system is ours
    assert next(s.phase for tag, s in seen if tag == MODEL) == CHECKING
    assert not page.model_transfer.isVisible() and page.browse.isEnabled()
    assert page.form.output_dir.text() == os.path.dirname(report.model)  # a folder on the device

    form = page.form
    form.precision.setCurrentIndex(form.precision.findData("int8"))
    form.calibration.setText(str(calibration))
    form.seconds.setValue(0.5)
    page.start.click()
    assert page.run_status.text() == "Sending the calibration data calib.npz to robot…"
    assert not page.start.isEnabled()
    qtbot.waitUntil(lambda: len(page.pipeline_ids) == 4, timeout=60_000)
    tracker = page.model.tracker
    qtbot.waitUntil(lambda: all(is_final(j) for j in (tracker.job(i) for i in page.pipeline_ids) if j),
                    timeout=300_000)
    states = [tracker.job(i).state for i in page.pipeline_ids]  # type: ignore[union-attr]
    assert states == ["succeeded"] * 4, page.run_status.text()
    # The tracker learns the final states on the connection's reader thread; the page's summary comes by
    # queued signals a moment later: wait for the label the user reads, not the tracker.
    qtbot.waitUntil(lambda: page.run_status.text().startswith("Done."), timeout=10_000)
    assert "Accuracy passed" in page.run_status.text()
    quantized = Path(os.path.dirname(report.model)) / "detector.int8.onnx"
    assert quantized.exists()  # written on the device, next to its copy of the model
    sent_calibration = [s for tag, s in seen if tag != MODEL]
    assert sent_calibration and sent_calibration[-1].phase == VERIFYING


@pytest.mark.timeout(300)
def test_sending_shows_progress_can_be_stopped_and_resumes(qtbot: QtBot, page: OptimizePage,
                                                           short_tmp: Path) -> None:
    big = _laptop(short_tmp) / "big.onnx"
    block = np.random.default_rng(7).bytes(1 << 20)
    with big.open("wb") as handle:
        for _ in range(96):
            handle.write(block)
    size = big.stat().st_size
    statuses: list[TransferStatus] = []
    texts: list[str] = []
    stop_once = [True]

    def on_progress(tag: str, status: TransferStatus) -> None:
        statuses.append(status)
        texts.append(page.model_transfer.label.text())
        if status.phase == SENDING and stop_once[0]:
            stop_once[0] = False
            assert page.model_transfer.isVisible() and page.model_transfer.bar.value() > 0
            page.model_transfer.stop_button.click()

    page.model.files.progressed.connect(on_progress)
    page.choose_model(str(big))
    qtbot.waitUntil(lambda: "was stopped at" in page.model_status.text(), timeout=120_000)
    message = page.model_status.text()
    assert "keeps what it received" in message
    stopped_at = float(message.split("stopped at ")[1].split()[0]) * 1e6  # MB, as the message says
    assert 0 < stopped_at < size
    assert not page.model_transfer.isVisible() and page.browse.isEnabled() and page.report is None

    statuses.clear()
    page.validate()  # the same file again: it goes on from what the device holds
    qtbot.waitUntil(lambda: page.model_status.text().startswith(("Not valid", "Validation failed")),
                    timeout=120_000)
    sending = [s for s in statuses if s.phase == SENDING]
    assert sending and sending[0].sent >= stopped_at - 0.05e6  # resumed where it stopped, not started over
    assert statuses[-1].phase == VERIFYING and statuses[-1].sent == size
    # What the row said while sending (rate and time left appear once 0.2 s of sending is behind
    # it, which a fast loopback may not give: the meter's wording is tested on its own clock).
    assert any(t.startswith("Sending big.onnx to ") and " MB of 100.7 MB" in t for t in texts), texts


@pytest.mark.timeout(300)
def test_the_demo_action_on_a_robot_without_one_sends_this_computers_copy_or_says_why_not(
        qtbot: QtBot, page: OptimizePage, short_tmp: Path) -> None:
    caps = page.session_model.capabilities
    assert caps is not None and not caps.demo_model  # an installed runtime runs without the demo
    page.demo_file = short_tmp / "laptop" / "edge-demo-classifier.onnx"
    page.demo.click()
    assert page.model_status.text() == (
        "robot's runtime does not provide the demo model (an installed runtime runs without it) and this "
        "computer has no copy yet. Open This computer once (it writes one), or choose an ONNX file.")
    page.demo_file.parent.mkdir(parents=True)
    write_demo_model(str(page.demo_file))
    page.demo.click()
    assert page.model_status.text() == "edge-demo-classifier.onnx is validated on robot once it is there."
    qtbot.waitUntil(lambda: page.report is not None, timeout=120_000)
    assert page.report is not None and page.report.ok and "/uploads/" in page.report.model
