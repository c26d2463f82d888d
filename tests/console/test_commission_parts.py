"""The commissioning's pure parts: golden folders (refused in words when malformed), the constant
reference model run on real ONNX Runtime, the report's HTML, serial numbers as folder names, and
the device's serial number read from a device tree."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from console.core.commissioning.checklist import FAIL, PASS, SKIP, CommissionReport, StepResult, safe_serial
from console.core.commissioning.golden import GoldenCase, GoldenError, load_cases, tolerances, write_case
from console.core.commissioning.report import read_report, report_html, write_report
from device_runtime.capabilities import probe, read_serial


def _save(folder: Path, files: dict[str, object]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in files.items():
        if name.endswith(".npz"):
            np.savez(folder / name, **value)  # type: ignore[arg-type]
        elif name.endswith(".npy"):
            np.save(folder / name, value)
        else:
            (folder / name).write_text(str(value))
    return folder


X = np.ones((1, 8), np.float32)
Y = np.zeros((1, 4), np.float32)


@pytest.mark.parametrize(("files", "words"), [
    ({}, "holds no golden cases"),
    ({"a.npz": {"x": X}}, "a.npz has no expected outputs next to it: save them as a.expected.npz"),
    ({"a.expected.npz": {"y": Y}}, "a.expected.npz has no inputs file next to it"),
    ({"a.npz": {"img": X}, "a.expected.npz": {"y": Y}}, "the model's inputs are ['x'] (missing: x) (not inputs: img)"),
    ({"a.npz": {"x": X}, "a.expected.npz": {"z": Y}}, "arrays z that are not outputs of the model"),
    ({"a.npz": {"x": np.array(["a"])}, "a.expected.npz": {"y": Y}}, "has type <U1; numbers are needed"),
    ({"a.npz": "not numpy", "a.expected.npz": {"y": Y}}, "cannot read"),
])
def test_malformed_golden_folders_are_refused_in_words(tmp_path: Path, files: dict[str, object], words: str) -> None:
    folder = tmp_path / "golden"
    folder.mkdir()
    for name, value in files.items():
        if isinstance(value, str):
            (folder / name).write_text(value)
        else:
            _save(folder, {name: value})
    with pytest.raises(GoldenError) as info:
        load_cases(folder, ["x"], ["y"])
    assert words in str(info.value)


def test_npy_needs_a_single_input_model_and_tolerances_are_checked(tmp_path: Path) -> None:
    folder = _save(tmp_path / "g", {"a.npy": X, "a.expected.npy": Y})
    (case,) = load_cases(folder, ["x"], ["y"])
    assert set(case.inputs) == {"x"} and set(case.expected) == {"y"}
    with pytest.raises(GoldenError, match=r"the model has several inputs: use a \.npz"):
        load_cases(folder, ["x", "mask"], ["y"])
    assert tolerances(folder) == (None, None)
    (folder / "tolerances.json").write_text(json.dumps({"atol": 0.01}))
    assert tolerances(folder) == (0.01, None)
    (folder / "tolerances.json").write_text(json.dumps({"atol": -1}))
    with pytest.raises(GoldenError, match="atol must be a number of 0 or more"):
        tolerances(folder)
    (folder / "tolerances.json").write_text("{oops")
    with pytest.raises(GoldenError, match="is not valid JSON"):
        tolerances(folder)


def test_the_reference_model_returns_the_expected_outputs(tmp_path: Path) -> None:
    x = np.random.default_rng(0).standard_normal((3, 8))  # float64: cast to the model's float32
    expected = {"y": np.arange(12, dtype=np.float32).reshape(3, 4), "n": np.array([3], np.int64)}
    data, reference = write_case(GoldenCase("c1", {"x": x}, expected), tmp_path, {"x": "float32"})
    feed = dict(np.load(data))
    assert feed["x"].dtype == np.float32 and feed["x"].shape == (3, 8)
    session = ort.InferenceSession(str(reference), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["x"] and session.get_inputs()[0].shape == [3, 8]
    y, n = session.run(["y", "n"], feed)
    np.testing.assert_array_equal(y, expected["y"])
    np.testing.assert_array_equal(n, expected["n"])


def _report() -> CommissionReport:
    evil = "<script>alert(1)</script>"
    steps = [StepResult("runtime", "Runtime and versions", PASS, "ok " + evil, ["board: " + evil]),
             StepResult("smoke", "Model smoke test on golden inputs", FAIL, "1 of 2 cases differ"),
             StepResult("rollback", "Rollback drill", SKIP, "no previous version")]
    return CommissionReport("SN/01 " + evil, "robot-07", 1_700_000_000.0, "tech", steps, {"board": evil},
                            finished=1_700_000_100.0, overall="failed")


def test_the_html_report_is_self_contained_and_escapes_device_text(tmp_path: Path) -> None:
    page = report_html(_report())
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "src=" not in page and "href=" not in page and "@import" not in page
    assert ">FAILED<" in page and "1 passed, 1 failed, 1 skipped" in page
    assert ">SKIPPED<" in page and ">PASS<" in page and ">FAIL<" in page
    json_path, html_path = write_report(_report(), tmp_path)
    assert json_path.parent == tmp_path / "SN_01__script_alert_1___script"
    assert html_path.read_text() == page
    assert read_report(json_path) == _report()


@pytest.mark.parametrize(("serial", "folder"), [
    ("1421020123456", "1421020123456"), ("SN 01/A", "SN_01_A"), ("../../etc", "etc"), ("  ", "unnamed")])
def test_serial_numbers_become_safe_folder_names(serial: str, folder: str) -> None:
    assert safe_serial(serial) == folder


def test_the_serial_number_comes_from_the_device_tree(tmp_path: Path) -> None:
    tree = tmp_path / "proc" / "device-tree"
    tree.mkdir(parents=True)
    (tree / "model").write_bytes(b"NVIDIA Jetson Orin NX Engineering Reference Developer Kit\x00")
    (tree / "serial-number").write_bytes(b"1423221012345\x00")
    assert read_serial(str(tmp_path)) == "1423221012345"
    assert probe(root=str(tmp_path)).serial == "1423221012345"
    (tree / "serial-number").unlink()
    dmi = tmp_path / "sys" / "class" / "dmi" / "id"
    dmi.mkdir(parents=True)
    (dmi / "product_serial").write_text("To Be Filled By O.E.M.\n")
    assert read_serial(str(tmp_path)) is None
    (dmi / "board_serial").write_text("PF3ABCDE\n")
    assert read_serial(str(tmp_path)) == "PF3ABCDE"
