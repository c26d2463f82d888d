"""Bad input gets a clear message (what happened, what to do) and leaves nothing behind."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from device_runtime import protocol as p
from tests.support.jobs_harness import Harness, capabilities

pytestmark = pytest.mark.slow


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path / "root", capabilities(), max_output_bytes=20000)
    yield h
    h.close()


def failed(h: Harness, kind: str, spec: dict[str, object]) -> str:
    done = h.wait_final(h.submit(kind, spec).id)
    assert done.state == p.JOB_FAILED, done
    return done.error or ""


def test_dynamic_dims_without_shapes_name_inputs_and_dims(harness: Harness, models_dir: Path) -> None:
    error = failed(harness, "benchmark", {"model": str(models_dir / "demo.onnx")})
    assert "'image' [batch, 3, 64, 64] (dynamic: batch)" in error and "image:1x3x64x64" in error
    error = failed(harness, "accuracy", {"candidate": str(models_dir / "demo.onnx"),
                                         "reference": str(models_dir / "demo.onnx")})
    assert "dynamic: batch" in error


@pytest.mark.parametrize(
    ("shapes", "needle"),
    [
        ({"image": [1, 3, 32, 32]}, "fixed dimension 2 of 64"),
        ({"image": [1, 3, 64]}, "rank 4"),
        ({"picture": [1, 3, 64, 64]}, "no input named picture; its inputs are image"),
        ({"image": [0, 3, 64, 64]}, "must be positive"),
    ],
)
def test_wrong_shapes(harness: Harness, models_dir: Path, shapes: dict[str, list[int]], needle: str) -> None:
    error = failed(harness, "benchmark", {"model": str(models_dir / "demo.onnx"), "shapes": shapes})
    assert needle in error


def test_calibration_data_of_the_wrong_shape(harness: Harness, models_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    np.save(tmp_path / "bad.npy", np.zeros((2, 3, 48, 48), dtype=np.float32))
    error = failed(harness, "quantize", {"model": str(models_dir / "demo.onnx"), "output": str(out / "q.onnx"),
                                         "precision": "int8", "calibration": str(tmp_path / "bad.npy")})
    assert "input 'image'" in error and "[2, 3, 48, 48]" in error and "['batch', 3, 64, 64]" in error
    np.savez(tmp_path / "bad.npz", pixels=np.zeros((2, 3, 64, 64), dtype=np.float32))
    error = failed(harness, "quantize", {"model": str(models_dir / "demo.onnx"), "output": str(out / "q.onnx"),
                                         "precision": "int8", "calibration": str(tmp_path / "bad.npz")})
    assert "missing: image" in error
    (tmp_path / "jpegs").mkdir()
    (tmp_path / "jpegs" / "a.jpg").write_bytes(b"\xff\xd8")
    error = failed(harness, "quantize", {"model": str(models_dir / "demo.onnx"), "output": str(out / "q.onnx"),
                                         "precision": "int8", "calibration": str(tmp_path / "jpegs")})
    assert "convert them to PNG" in error
    assert os.listdir(out) == []


def test_output_over_the_size_limit_fails_cleanly(harness: Harness, models_dir: Path, tmp_path: Path) -> None:
    """The demo model is ~100 kB; this service lets a job write 20 kB (RLIMIT_FSIZE in the worker)."""
    out = tmp_path / "out"
    out.mkdir()
    error = failed(harness, "quantize", {"model": str(models_dir / "demo.onnx"), "output": str(out / "h.onnx"),
                                         "precision": "fp16"})
    assert "could not write" in error and "File too large" in error and "Nothing was written" in error
    assert os.listdir(out) == []


@pytest.mark.parametrize(
    ("output", "needle"),
    [
        ("/sys/edge-test.onnx", "Permission denied"),  # sysfs refuses new files, even for root
        ("{tmp}/no/such/dir/x.onnx", "does not exist: create it"),
        ("{tmp}/afile/x.onnx", "is a file, not a folder: create it"),
    ],
)
def test_unwritable_output_locations(harness: Harness, models_dir: Path, tmp_path: Path, output: str,
                                     needle: str) -> None:
    (tmp_path / "afile").write_text("")
    target = output.format(tmp=tmp_path)
    error = failed(harness, "quantize", {"model": str(models_dir / "demo_static.onnx"), "output": target,
                                         "precision": "fp16"})
    assert needle in error and target in error
    assert not os.path.exists(target)


def test_keep_fp32_names_must_exist(harness: Harness, models_dir: Path, tmp_path: Path) -> None:
    error = failed(harness, "quantize", {"model": str(models_dir / "demo.onnx"), "output": str(tmp_path / "x.onnx"),
                                         "precision": "fp16", "keep_fp32": ["pixels"]})
    assert "pixels" in error and "image, logits" in error


def test_fp16_keeps_named_io_in_fp32(harness: Harness, models_dir: Path, tmp_path: Path) -> None:
    import onnx

    h = Harness(tmp_path / "root2", capabilities())
    try:
        done = h.wait_final(h.submit("quantize", {"model": str(models_dir / "demo.onnx"),
                                                  "output": str(tmp_path / "h.onnx"), "precision": "fp16",
                                                  "fp16_io": True, "keep_fp32": ["image"]}).id)
    finally:
        h.close()
    assert done.state == p.JOB_SUCCEEDED, done.error
    graph = onnx.load(str(tmp_path / "h.onnx")).graph
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    result = p.QuantizeResult.from_wire(done.result or {})
    assert result.kept_fp32 == ["image"] and result.size_bytes < result.source_size_bytes


def test_int8_from_a_folder_of_images(harness: Harness, models_dir: Path, tmp_path: Path) -> None:
    from tests.support.images import write_png, write_ppm

    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(5)
    for i in range(4):
        write_png(images / ("f%d.png" % i), rng.integers(0, 255, (80, 100, 3), dtype=np.uint8), filter_type=i + 1)
    write_ppm(images / "g.ppm", rng.integers(0, 255, (40, 50, 3), dtype=np.uint8))
    h = Harness(tmp_path / "root2", capabilities())
    try:
        done = h.wait_final(h.submit("quantize", {
            "model": str(models_dir / "demo.onnx"), "output": str(tmp_path / "q.onnx"), "precision": "int8",
            "calibration": str(images), "preprocess": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
            "calibrate_method": "percentile", "per_channel": False}).id)
    finally:
        h.close()
    assert done.state == p.JOB_SUCCEEDED, done.error
    result = p.QuantizeResult.from_wire(done.result or {})
    assert result.calibration_samples == 5 and result.method == "percentile" and result.quantized_nodes > 0
