"""Data for jobs: image preprocessing flags (console parser to the device and into the output's
metadata), .npz inputs for bench, integer inputs that stay within what the model accepts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest

from console.core.jobs.specs import SpecError, parse_preprocess
from console.core.models.packages import build_package, inspect_package
from device_runtime import protocol as p
from tests.support import quant_models
from tests.support.images import write_png
from tests.support.jobs_harness import Harness, capabilities


def test_preprocess_flags_parse_to_the_spec() -> None:
    assert parse_preprocess("640x480", "nhwc", "bgr", "1", "0.5", "0.2,0.3,0.4") == {
        "size": [640, 480], "layout": "NHWC", "channels": "BGR", "scale": 1.0, "mean": [0.5],
        "std": [0.2, 0.3, 0.4]}
    assert parse_preprocess() == {}


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"size": "640"}, "HxW"), ({"layout": "CHW"}, "channels first"), ({"channels": "RGBA"}, "BGR"),
    ({"scale": "0"}, "one positive number"), ({"mean": "a,b,c"}, "one per channel"), ({"std": "1,2"}, "three"),
    ({"std": "0"}, "must be positive"),
])
def test_bad_preprocess_flags_say_what_to_write(kwargs: dict[str, str], needle: str) -> None:
    with pytest.raises(SpecError, match=needle):
        parse_preprocess(**kwargs)  # type: ignore[arg-type]


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path / "root", capabilities())
    yield h
    h.close()


@pytest.mark.slow
def test_images_with_dynamic_size_need_the_size_flag_and_it_is_recorded(harness: Harness, tmp_path: Path) -> None:
    source = tmp_path / "resize.onnx"
    quant_models.resize_by_computed_size(source)  # input [N, 3, 16, 16]: the size comes from the model
    model = onnx.load(str(source))
    for dim in model.graph.input[0].type.tensor_type.shape.dim[2:]:
        dim.dim_param = "S"
    onnx.save(model, str(source))
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(3)
    for i in range(3):
        write_png(images / ("%d.png" % i), rng.integers(0, 255, (20, 24, 3), dtype=np.uint8))
    spec = {"model": str(source), "output": str(tmp_path / "q.onnx"), "precision": "int8",
            "calibration": str(images)}
    done = harness.wait_final(harness.submit("quantize", spec).id)
    assert done.state == p.JOB_FAILED and "--size HxW" in (done.error or "")
    preprocess = parse_preprocess("16x16", None, "BGR", "1", "128", "64")
    done = harness.wait_final(harness.submit("quantize", {**spec, "preprocess": preprocess}).id)
    assert done.state == p.JOB_SUCCEEDED, done.error
    props = {prop.key: prop.value for prop in onnx.load(str(tmp_path / "q.onnx")).metadata_props}
    record = json.loads(props["edge.quantize"])
    assert record["preprocess"] == {"size": [16, 16], "channels": "BGR", "scale": 1.0, "mean": [128.0],
                                    "std": [64.0]}
    assert record["samples"] == 3 and record["method"] == "minmax" and record["calibration"] == "images"
    # ... and a package of the output carries it in its manifest, for the device and for people.
    package = tmp_path / "resize-1.0.0.tar.gz"
    first = onnx.load(str(tmp_path / "q.onnx")).graph.input[0].name
    build_package(tmp_path / "q.onnx", package, "resize", "1.0.0", "tests", shapes={first: [1, 3, 16, 16]})
    recipe = inspect_package(package).manifest.recipe
    assert recipe["preprocess"] == record["preprocess"] and recipe["calibration"] == "images"


@pytest.mark.slow
def test_integer_ids_stay_inside_the_table_and_bench_takes_npz(harness: Harness, tmp_path: Path) -> None:
    source = tmp_path / "emb.onnx"
    quant_models.token_embedding(source, vocab=4)  # random ids in [0, 10) would be rejected
    bench = harness.wait_final(harness.submit("benchmark", {"model": str(source), "seconds": 0.3, "warmup_s": 0.05,
                                                            "shapes": {"ids": [1, 7]}}).id)
    assert bench.state == p.JOB_SUCCEEDED, bench.error
    acc = harness.wait_final(harness.submit("accuracy", {"candidate": str(source), "reference": str(source),
                                                         "shapes": {"ids": [1, 7]}, "samples": 4}).id)
    assert acc.state == p.JOB_SUCCEEDED, acc.error
    np.savez(tmp_path / "ids.npz", ids=np.array([[3, 2, 1]], dtype=np.int64))
    data = harness.wait_final(harness.submit("benchmark", {"model": str(source), "seconds": 0.3, "warmup_s": 0.05,
                                                           "data": str(tmp_path / "ids.npz")}).id)
    assert data.state == p.JOB_SUCCEEDED, data.error
    assert p.BenchmarkResult.from_wire(data.result or {}).shapes == {"ids": [1, 3]}
    np.savez(tmp_path / "bad.npz", ids=np.array([[9]], dtype=np.int64))
    bad = harness.wait_final(harness.submit("benchmark", {"model": str(source), "seconds": 0.3,
                                                          "data": str(tmp_path / "bad.npz")}).id)
    assert bad.state == p.JOB_FAILED and "ONNX Runtime refused these inputs" in (bad.error or "")


@pytest.mark.slow
def test_bench_and_accuracy_feed_the_package_sample(harness: Harness, tmp_path: Path) -> None:
    from console.core.models.packages import SAMPLE_FILE, manifest_for_onnx

    folder = tmp_path / "tokens" / "1.0.0"  # as a stored version or an unpacked package lays it out
    folder.mkdir(parents=True)
    quant_models.token_embedding(folder / "model.onnx", vocab=4)
    np.savez(folder / SAMPLE_FILE, ids=np.array([[3, 1]], dtype=np.int64))
    manifest = manifest_for_onnx(folder / "model.onnx", "tokens", "1.0.0", "tests", sample=folder / SAMPLE_FILE)
    (folder / "manifest.json").write_bytes(manifest.canonical_bytes())
    model = str(folder / "model.onnx")
    bench = harness.wait_final(harness.submit("benchmark", {"model": model, "seconds": 0.2, "warmup_s": 0.05}).id)
    assert bench.state == p.JOB_SUCCEEDED, bench.error
    assert p.BenchmarkResult.from_wire(bench.result or {}).shapes == {"ids": [1, 2]}
    assert "using the sample of package tokens 1.0.0" in harness.log_text(bench.id)
    acc = harness.wait_final(harness.submit("accuracy", {"candidate": model, "reference": model, "samples": 1}).id)
    assert acc.state == p.JOB_SUCCEEDED, acc.error
    loose = tmp_path / "loose.onnx"  # the same model outside a package: its dynamic length needs a shape
    quant_models.token_embedding(loose, vocab=4)
    alone = harness.wait_final(harness.submit("benchmark", {"model": str(loose), "seconds": 0.2}).id)
    assert alone.state == p.JOB_FAILED and "ids:1x1" in (alone.error or "")
