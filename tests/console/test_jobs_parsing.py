"""What people type for jobs: shapes, build profiles, sweeps, device paths and the Optimize plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.core.jobs.specs import (
    SpecError,
    default_shapes,
    device_path,
    dynamic_inputs,
    missing_shapes,
    parse_concurrency,
    parse_profile,
    parse_shape,
    parse_shapes,
)
from console.core.optimize.plan import OptimizeChoice, plan_pipeline, trt_major
from console.core.settings import DeviceEntry
from device_runtime.protocol import AccuracySpec, BenchmarkSpec, BuildSpec, QuantizeSpec, TensorInfo, ValidateReport

LOCAL = DeviceEntry("local", kind="local", label="This computer")


@pytest.mark.parametrize(("text", "name", "dims"), [
    ("image:1x3x320x320", "image", [1, 3, 320, 320]),
    ("input:0:1X3x8x8", "input:0", [1, 3, 8, 8]),
    (" x : 4 ", "x", [4]),
])
def test_shapes_parse(text: str, name: str, dims: list[int]) -> None:
    assert parse_shape(text) == (name, dims)


@pytest.mark.parametrize(("text", "says"), [
    ("image", "needs an input name and its dimensions"),
    ("image:", "has no dimensions"),
    (":1x3", "needs an input name"),
    ("image:1x3xfoo", "'foo' is not a positive whole number"),
    ("image:1x0x3", "'0' is not a positive whole number"),
    ("image:1x-3", "'-3' is not a positive whole number"),
    ("image:1,3,4", "not a positive whole number"),
])
def test_malformed_shapes_say_what_to_write(text: str, says: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_shape(text)
    assert says in str(err.value)
    assert "image:1x3x320x320" in str(err.value)


def test_an_input_given_twice_is_refused() -> None:
    with pytest.raises(SpecError, match="gives input 'a' twice"):
        parse_shapes(["a:1x2", "a:1x3"])


@pytest.mark.parametrize(("text", "expected"), [
    ("image:1x3x64x64,4x3x64x64,8x3x64x64", ("image", "1x3x64x64,4x3x64x64,8x3x64x64")),
    ("image:2x3", ("image", "2x3,2x3,2x3")),
])
def test_build_profiles(text: str, expected: tuple[str, str]) -> None:
    assert parse_profile(text) == expected


@pytest.mark.parametrize(("text", "says"), [
    ("image:1x3,2x3", "give one shape, or three (min,opt,max)"),
    ("image:1x3,2x3x4,4x3", "same number of dimensions"),
    ("image:4x3,2x3,8x3", "dimension 0 must satisfy min <= opt <= max (got 4, 2, 8)"),
])
def test_bad_profiles(text: str, says: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_profile(text)
    assert says in str(err.value)


def test_concurrency() -> None:
    assert parse_concurrency("4,1,2,2") == [1, 2, 4]
    assert parse_concurrency(None) == []
    for bad in ("0", "1,x", "65", "1,,2"):
        with pytest.raises(SpecError, match="--concurrency"):
            parse_concurrency(bad)


def _report(*inputs: TensorInfo) -> ValidateReport:
    return ValidateReport(model="/m/model.onnx", ok=True, inputs=list(inputs))


def test_dynamic_inputs_are_named_with_their_symbols() -> None:
    report = _report(TensorInfo("image", "float32", ["batch", 3, "h", "w"]), TensorInfo("scale", "float32", [1]),
                     TensorInfo("mask", "float32", [None, 4]))
    assert dynamic_inputs(report.inputs) == {"image": ["batch", "h", "w"], "mask": ["?"]}
    message = missing_shapes(report, {"mask": [1, 4]})
    assert message is not None
    assert "image has symbolic dimension(s) batch, h, w" in message and "--shape image:" in message
    assert missing_shapes(report, {"image": [1, 3, 8, 8], "mask": [1, 4]}) is None
    # Only a leading batch dimension can be guessed; other symbols need the person.
    assert default_shapes(report) == {"scale": [1], "mask": [1, 4]}
    assert default_shapes(_report(TensorInfo("image", "float32", ["N", 3, 64, 64]))) == {"image": [1, 3, 64, 64]}


def test_device_paths_on_the_local_device_are_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    assert device_path(LOCAL, "m.onnx") == str(model.resolve())
    assert device_path(LOCAL, "out.onnx", must_exist=False) == str(tmp_path.resolve() / "out.onnx")
    with pytest.raises(SpecError, match="does not exist; check the path"):
        device_path(LOCAL, "missing.onnx")
    with pytest.raises(SpecError, match=r"folder .*nowhere does not exist"):
        device_path(LOCAL, "nowhere/out.onnx", must_exist=False)


def test_remote_devices_need_a_connection_and_absolute_outputs(tmp_path: Path) -> None:
    robot = DeviceEntry("robot-07", kind="ssh", host="10.0.0.7")
    with pytest.raises(SpecError) as err:
        device_path(robot, tmp_path / "m.onnx")  # an input is sent over the connection: none given
    assert "robot-07 is reached over ssh and" in str(err.value) and "edgectl --device robot-07" in str(err.value)
    with pytest.raises(SpecError) as err:
        device_path(robot, "out/m.onnx", must_exist=False)
    assert "an output is a path on the device: give it absolute" in str(err.value)
    assert device_path(robot, "/data/m.fp16.onnx", must_exist=False) == "/data/m.fp16.onnx"


def _kinds(steps: list[tuple[str, object, str]]) -> list[str]:
    return [kind for kind, _, _ in steps]


def test_plan_fp16_on_onnx_runtime() -> None:
    steps = plan_pipeline(OptimizeChoice("/m/det.onnx", "fp16", "ort", shapes={"image": [1, 3, 64, 64]}), None)
    assert _kinds(steps) == ["benchmark", "quantize", "benchmark", "accuracy"]
    baseline, quantize, bench, accuracy = (spec for _, spec, _ in steps)
    assert isinstance(baseline, BenchmarkSpec) and baseline.model == "/m/det.onnx"
    assert isinstance(quantize, QuantizeSpec) and quantize.output == "/m/det.fp16.onnx"
    assert isinstance(bench, BenchmarkSpec) and bench.model == "/m/det.fp16.onnx"
    assert bench.label == "det fp16 ONNX Runtime" and bench.shapes == {"image": [1, 3, 64, 64]}
    assert isinstance(accuracy, AccuracySpec)
    assert (accuracy.candidate, accuracy.reference, accuracy.precision) == ("/m/det.fp16.onnx", "/m/det.onnx", "fp16")


def test_plan_tensorrt_generations() -> None:
    choice = OptimizeChoice("/m/det.onnx", "fp16", "trt", output_dir="/out", shapes={"image": [2, 3, 8, 8]})
    ten = plan_pipeline(choice, "10.3.0")
    assert _kinds(ten) == ["benchmark", "build", "benchmark", "accuracy"]
    build = ten[1][1]
    assert isinstance(build, BuildSpec)
    assert build.precision == ["fp16"] and build.output == "/out/det.fp16.engine"
    assert build.shapes == {"image": "2x3x8x8,2x3x8x8,2x3x8x8"}
    eleven = plan_pipeline(choice, "11.1.0")  # no precision flags: FP16 must come from the ONNX
    assert _kinds(eleven) == ["benchmark", "quantize", "build", "benchmark", "accuracy"]
    build11 = eleven[2][1]
    assert isinstance(build11, BuildSpec) and build11.precision == [] and build11.model == "/out/det.fp16.onnx"
    bench = eleven[3][1]
    assert isinstance(bench, BenchmarkSpec) and bench.backend == "trt" and bench.model == "/out/det.fp16.engine"
    assert trt_major("8.6.2") == 8 and trt_major(None) is None and trt_major("x") is None


def test_plan_refusals() -> None:
    with pytest.raises(SpecError, match="TensorRT is not installed"):
        plan_pipeline(OptimizeChoice("/m/a.onnx", "fp32", "trt"), None)
    with pytest.raises(SpecError, match="INT8 needs calibration data"):
        plan_pipeline(OptimizeChoice("/m/a.onnx", "int8", "ort"), None)
    only_bench = plan_pipeline(OptimizeChoice("/m/a.onnx", "fp32", "ort"), None)
    assert _kinds(only_bench) == ["benchmark"]
