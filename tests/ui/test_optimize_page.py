"""The Optimize wizard against the real local runtime: validate, choose, run the pipeline, cancel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from console.core.devices.session import State
from console.core.jobs.tracker import is_final
from console.ui.devices.qt_session import QtSession
from console.ui.optimize.page import OptimizePage
from device_runtime.demo_model import build_demo_model
from tests.support.optimize_page import open_optimize_page

pytestmark = pytest.mark.gui


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    import onnx

    path = tmp_path / "models" / "detector.onnx"
    path.parent.mkdir()
    onnx.save(build_demo_model(), str(path))
    return path


@pytest.fixture
def page(qtbot: QtBot, local_model: QtSession, tmp_path: Path) -> Iterator[OptimizePage]:
    yield from open_optimize_page(qtbot, local_model, tmp_path / "bench.jsonl")


def _validated(qtbot: QtBot, page: OptimizePage, path: Path) -> None:
    page.choose_model(str(path))
    qtbot.waitUntil(lambda: page.report is not None, timeout=60_000)


def test_validate_then_fp16_pipeline_to_a_summary(qtbot: QtBot, page: OptimizePage, model_file: Path) -> None:
    assert not page.start.isEnabled() and not page.target_box.isEnabled()
    _validated(qtbot, page, model_file)
    assert page.model_status.text() == "Valid · fp32 · 1 input · 24,682 parameters"
    assert "image   float32  [batch, 3, 64, 64]" in page.report_view.toPlainText()
    # Backends come from the device's report; one it cannot use is listed, disabled, with the reason.
    form = page.form
    labels = [form.backend.itemText(i) for i in range(form.backend.count())]
    assert labels[0] == "ONNX Runtime · CPU"
    items = form.backend.model()
    assert isinstance(items, QStandardItemModel)
    trt = next(i for i, text in enumerate(labels) if text.startswith("TensorRT engine"))
    assert "not installed" in labels[trt] and not items.item(trt).isEnabled()
    assert form.backend.currentIndex() == 0
    assert list(form.shape_edits) == ["image"] and form.shape_edits["image"].text() == "1x3x64x64"
    assert form.output_dir.text() == str(model_file.parent)
    assert page.start.isEnabled() and not form.calibration.isEnabled()

    form.precision.setCurrentIndex(form.precision.findData("fp16"))
    form.seconds.setValue(0.5)
    page.start.click()
    qtbot.waitUntil(lambda: len(page.pipeline_ids) == 4, timeout=20_000)
    assert page.steps_model.rowCount() == 4 and not page.start.isEnabled()
    jobs = page.model.tracker
    qtbot.waitUntil(lambda: all(is_final(j) for j in (jobs.job(i) for i in page.pipeline_ids) if j), timeout=120_000)
    qtbot.waitUntil(lambda: page.run_status.text().startswith("Done."), timeout=10_000)
    summary = page.run_status.text()
    assert "detector fp16 ONNX Runtime: p50" in summary and "FP32 baseline p50" in summary
    assert "Accuracy passed against the FP32 reference" in summary
    assert (model_file.parent / "detector.fp16.onnx").exists()
    assert [e.result.label for e in page.model.book.entries()] == ["detector fp32 ONNX Runtime",
                                                                    "detector fp16 ONNX Runtime"]
    assert "── " in page.log.toPlainText()  # each step's log under its own heading
    assert page.start.isEnabled() and not page.cancel.isEnabled()


def test_bad_inputs_say_what_to_do(qtbot: QtBot, page: OptimizePage, model_file: Path, tmp_path: Path) -> None:
    page.choose_model(str(tmp_path / "missing.onnx"))
    assert page.model_status.text().endswith("missing.onnx does not exist; check the path.")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"this is not a protobuf")
    page.choose_model(str(broken))
    qtbot.waitUntil(lambda: page.model_status.text().startswith(("Not valid", "Validation failed")),
                    timeout=60_000)
    status = page.model_status.text()  # what happened and the next step, not "failed. See Details"
    assert "%s is not a readable ONNX model" % broken in status and "Re-export it" in status, status
    assert not page.start.isEnabled() and not page.deploy_model.isVisibleTo(page)

    _validated(qtbot, page, model_file)
    page.form.precision.setCurrentIndex(page.form.precision.findData("int8"))
    assert page.form.calibration.isEnabled()
    page.start.click()
    assert page.run_status.text() == ("Cannot start: INT8 needs calibration data: a .npy / .npz file or a folder "
                                      "of them or of images.")
    page.form.calibration.setText(str(tmp_path / "no-such-calibration"))
    page.start.click()
    assert page.run_status.text().startswith("Cannot start: ") and "does not exist" in page.run_status.text()
    page.form.precision.setCurrentIndex(page.form.precision.findData("fp32"))
    page.form.shape_edits["image"].setText("1x3xsixty-four")
    page.start.click()
    assert page.run_status.text().startswith("Cannot start: shape of 'image:1x3xsixty-four'")
    assert page.pipeline_ids == []


def test_cancel_the_pipeline_after_confirming(qtbot: QtBot, page: OptimizePage, model_file: Path) -> None:
    _validated(qtbot, page, model_file)
    page.form.precision.setCurrentIndex(page.form.precision.findData("fp16"))
    page.form.seconds.setValue(60.0)
    page.start.click()
    tracker = page.model.tracker
    qtbot.waitUntil(lambda: bool(page.pipeline_ids) and (tracker.job(page.pipeline_ids[0]) is not None)
                    and tracker.job(page.pipeline_ids[0]).state == "running", timeout=30_000)  # type: ignore[union-attr]
    qtbot.waitUntil(page.cancel.isEnabled, timeout=5_000)
    page.cancel.click()
    box = page.confirm_box
    assert box is not None
    assert box.text() == ("Cancel the pipeline 'detector fp16 ort' on This computer? The running step stops now "
                          "and the 3 step(s) after it will not run.")
    next(b for b in box.buttons() if box.buttonRole(b) == QMessageBox.ButtonRole.DestructiveRole).click()
    qtbot.waitUntil(lambda: all(is_final(j) for j in (tracker.job(i) for i in page.pipeline_ids) if j),
                    timeout=30_000)
    states = [tracker.job(i).state for i in page.pipeline_ids]  # type: ignore[union-attr]
    assert states == ["cancelled"] * 4
    # The tracker learns the final states on the connection's reader thread; the page hears of
    # them by queued signals a moment later: wait for the label the user reads, not the tracker.
    qtbot.waitUntil(lambda: page.run_status.text().startswith("Cancelled at "), timeout=10_000)
    assert page.session_model.state is State.CONNECTED
