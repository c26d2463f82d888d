"""The Optimize page's Target form: calibration-image preprocessing fields (enabled for INT8 only)
reach the quantize step's spec; bad values are refused with the same sentence as edgectl's."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from console.core.jobs.specs import SpecError
from console.core.optimize.plan import plan_pipeline
from console.ui.optimize.form import TargetForm
from device_runtime.protocol import BackendSupport, QuantizeSpec, TensorInfo, ValidateReport

pytestmark = pytest.mark.gui


def _form(qtbot: QtBot) -> TargetForm:
    form = TargetForm()
    qtbot.addWidget(form)
    report = ValidateReport(model="/models/det.onnx", ok=True, inputs=[TensorInfo("images", "float32",
                                                                                [1, 3, "H", "W"])],
                            backends=[BackendSupport("onnxruntime:CPUExecutionProvider", True, [], "")])
    form.set_report(report, None)
    form.shape_edits["images"].setText("1x3x640x640")
    return form


def test_preprocessing_reaches_the_quantize_spec(qtbot: QtBot) -> None:
    form = _form(qtbot)
    assert not form.image_size.isEnabled()
    assert form.choice("/models/det.onnx").preprocess == {}
    form.precision.setCurrentIndex(form.precision.findData("int8"))
    assert form.image_size.isEnabled() and form.mean.isEnabled()
    form.calibration.setText("/data/calib")
    form.image_size.setText("640x640")
    form.channels.setCurrentIndex(form.channels.findData("BGR"))
    form.pixel_scale.setText("1")
    choice = form.choice("/models/det.onnx")
    assert choice.preprocess == {"size": [640, 640], "channels": "BGR", "scale": 1.0}
    quantize = [spec for kind, spec, _ in plan_pipeline(choice, None) if kind == "quantize"]
    assert isinstance(quantize[0], QuantizeSpec) and quantize[0].preprocess == choice.preprocess
    form.std.setText("0")
    with pytest.raises(SpecError, match="standard deviations must be positive"):
        form.choice("/models/det.onnx")
