"""The warm-up on real inputs: integer and scalar inputs fed from a sample, failures that say what they fed,
and packages that record no warm-up inputs refused before anything is stored when they need some."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from console.core.models.packages import build_package, manifest_for_onnx, write_package
from device_runtime.engines.ort_session import TENSORRT, device_providers
from device_runtime.package_format.errors import StoreError
from device_runtime.package_format.signing import sign
from device_runtime.store import activation, warmup
from device_runtime.store.store import Store
from tests.support.store import SIGN_KEY, snapshot
from tests.zoo import BY_NAME


def _old_style_package(model: Path, out: Path, name: str, shapes: dict[str, list[int]]) -> Path:
    """A package as a console from before warm-up inputs were recorded wrote it: no ``warmup`` section."""
    manifest = manifest_for_onnx(model, name, "1.0.0", "tests", shapes=shapes)
    manifest.warmup = None
    raw = manifest.canonical_bytes()
    write_package(out, raw, sign(SIGN_KEY, raw).to_bytes(), {"model.onnx": model})
    return out


def _model(path: Path, dims: list[object]) -> Path:
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, dims)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_an_old_package_that_needs_warm_up_sizes_is_refused_before_anything_is_stored(
        store: Store, tmp_path: Path) -> None:
    package = _old_style_package(_model(tmp_path / "det.onnx", ["n", 3, "h", "w"]), tmp_path / "det.tar.gz", "det",
                                 {"x": [1, 3, 8, 8]})
    before = snapshot(Path(store.root))
    with pytest.raises(StoreError, match=r"det 1.0.0 records no warm-up inputs and the warm-up cannot choose sizes "
                                         r"for the dynamic dimensions of input 'x' \?x3x\?x\?: it needs --shape "
                                         r"x:1x3xNxN") as caught:
        store.import_package(str(package))
    assert caught.value.code == "bad_manifest"
    assert snapshot(Path(store.root)) == before


def test_an_old_package_with_only_a_dynamic_batch_still_deploys(store: Store, tmp_path: Path) -> None:
    package = _old_style_package(_model(tmp_path / "cls.onnx", ["n", 4]), tmp_path / "cls.tar.gz", "cls",
                                 {"x": [1, 4]})
    store.import_package(str(package))
    assert activation.activate(store, activation.Plan("cls", "1.0.0")).result == "committed"


def test_the_warm_up_loads_an_onnx_model_on_the_provider_the_device_picks(store: Store, tmp_path: Path) -> None:
    """The runtime's one session builder and provider choice, as the latency probe uses them: the best
    accelerator ONNX Runtime has here other than TensorRT's provider, else the CPU."""
    package = _old_style_package(_model(tmp_path / "cls.onnx", ["n", 4]), tmp_path / "cls.tar.gz", "cls",
                                 {"x": [1, 4]})
    store.import_package(str(package))
    result = warmup.run_warmup(store.version_dir("cls", "1.0.0"))
    assert result["ok"] and result["provider"] == device_providers(skip=(TENSORRT,))[0]
    assert result["load_s"] > 0 and result["infer_ms"] > 0


def test_integer_scalars_without_a_sample_get_the_least_value_the_model_declares(store: Store,
                                                                                 tmp_path: Path) -> None:
    """Zeros would stop ``Range`` (its ``delta`` may not be 0); a scalar count or size is at least 1."""
    model = BY_NAME["onnx-range-int32"].path()
    manifest = build_package(model, tmp_path / "plain.tar.gz", "ranger", "1.0.0", "tests", key=SIGN_KEY)
    assert manifest.warmup is not None and manifest.warmup.sample is None
    store.import_package(str(tmp_path / "plain.tar.gz"))
    assert activation.activate(store, activation.Plan("ranger", "1.0.0")).result == "committed"


def test_integer_scalars_come_from_the_sample_and_a_failure_says_what_it_fed(store: Store, tmp_path: Path) -> None:
    model = BY_NAME["silero-vad"].path()
    shapes = {"input": [1, 512], "state": [2, 1, 128]}
    build_package(model, tmp_path / "plain.tar.gz", "vad", "1.0.0", "tests", shapes=shapes, key=SIGN_KEY)
    store.import_package(str(tmp_path / "plain.tar.gz"))
    failed = activation.activate(store, activation.Plan("vad", "1.0.0"))
    assert failed.result == "failed" and failed.code == "load_failed"
    assert "Non-zero status code returned while running If node" in failed.message
    assert "It fed input float32[1x512] all 0.0; state float32[2x1x128] all 0.0; sr int64[] = 1." in failed.message
    assert "--sample FILE.npz" in failed.message

    sample = tmp_path / "sample.npz"
    np.savez(sample, input=np.zeros((1, 512), np.float32), state=np.zeros((2, 1, 128), np.float32),
             sr=np.int64(16000))
    manifest = build_package(model, tmp_path / "real.tar.gz", "vad", "1.0.1", "tests", sample=sample,
                             key=SIGN_KEY)
    assert manifest.warmup is not None and manifest.warmup.sample == "warmup.npz"
    assert manifest.warmup.shapes == {"input": [1, 512], "state": [2, 1, 128], "sr": []}
    store.import_package(str(tmp_path / "real.tar.gz"))
    assert activation.activate(store, activation.Plan("vad", "1.0.1")).result == "committed"


def test_a_sample_that_does_not_fit_is_refused_on_the_laptop(tmp_path: Path) -> None:
    from console.core.models.packages import PackageError

    sample = tmp_path / "sample.npz"
    np.savez(sample, start=np.int64(10), limit=np.int32(4), delta=np.int32(-3))
    with pytest.raises(PackageError, match="the sample's 'start' is int64, the input is int32: save it as int32"):
        build_package(BY_NAME["onnx-range-int32"].path(), tmp_path / "p.tar.gz", "r", "1.0.0", "tests",
                      sample=sample)
    np.savez(sample, begin=np.int32(1))
    with pytest.raises(PackageError, match=r"'begin' is not an input of the model \(its inputs: start, limit, "):
        build_package(BY_NAME["onnx-range-int32"].path(), tmp_path / "p.tar.gz", "r", "1.0.0", "tests",
                      sample=sample)
    assert not (tmp_path / "p.tar.gz").exists()
