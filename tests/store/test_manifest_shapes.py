"""Manifests take every shape real exporters write: whatever ``package build`` writes, ``package inspect``
and the device's reader accept (a property test over generated ONNX signatures)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper

from console.core.models.packages import PackageError, build_package, inspect_package
from device_runtime.package_format.manifest import Manifest, parse_manifest_bytes

# what exporters put in a dimension: a size, -1 (paddle2onnx), a name, a computed expression, nothing
DIMS = st.one_of(
    st.integers(min_value=0, max_value=1 << 20),
    st.just(-1),
    st.text(min_size=1, max_size=600),
    st.sampled_from(["batch", "p2o.DynamicDimension.0", "unk__122", "(floor(floor(height/2 - 1/2)/2) + 1)*" * 12]),
    st.none(),
)
ELEM_TYPES = st.sampled_from([t for t in range(1, 24) if t not in (8,)] + [0])


@st.composite
def value_infos(draw: Any, prefix: str, count: int) -> list[Any]:
    values = []
    for i in range(count):
        dims = draw(st.lists(DIMS, max_size=6))
        kind = draw(st.sampled_from(["tensor", "tensor", "tensor", "sequence", "no-shape"]))
        name = "%s%d_%s" % (prefix, i, draw(st.text(alphabet="abcxyz./:_- ", max_size=12)))
        elem = draw(ELEM_TYPES)
        if kind == "sequence":
            values.append(helper.make_tensor_sequence_value_info(name, elem or 1, None))
        elif kind == "no-shape":
            values.append(helper.make_tensor_value_info(name, elem, None))
        else:
            value = helper.make_tensor_value_info(name, elem, [])
            for dim in dims:
                entry = value.type.tensor_type.shape.dim.add()
                if isinstance(dim, int):
                    entry.dim_value = dim
                elif isinstance(dim, str):
                    entry.dim_param = dim
            values.append(value)
    return values


def _fed_shape(value: Any) -> list[int]:
    return [d.dim_value if d.HasField("dim_value") and d.dim_value >= 0 else 2
            for d in value.type.tensor_type.shape.dim]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(inputs=st.integers(min_value=0, max_value=3).flatmap(lambda n: value_infos("in", n)),
       outputs=st.integers(min_value=1, max_value=3).flatmap(lambda n: value_infos("out", n)))
def test_what_package_build_writes_inspect_and_the_device_accept(tmp_path: Path, inputs: list[Any],
                                                                outputs: list[Any]) -> None:
    with tempfile.TemporaryDirectory(dir=tmp_path) as scratch:
        _build_and_read(Path(scratch), inputs, outputs)


def _build_and_read(tmp_path: Path, inputs: list[Any], outputs: list[Any]) -> None:
    graph = helper.make_graph([], "exported", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "exported.onnx"
    onnx.save(model, str(path))
    tensors = [v for v in inputs if v.type.WhichOneof("value") == "tensor_type"]
    shapes = {v.name: _fed_shape(v) for v in tensors}
    out = tmp_path / "exported.tar.gz"
    try:
        manifest = build_package(path, out, "exported", "1.0.0", "tests", shapes=shapes)
    except PackageError as exc:
        # the only refusal: an input the warm-up cannot feed, named with what to do
        assert any(v.type.WhichOneof("value") != "tensor_type" or v.type.tensor_type.elem_type == 0
                   for v in inputs), exc
        assert "the warm-up cannot feed" in str(exc)
        assert not out.exists()
        return
    info = inspect_package(out)
    assert info.verified and info.manifest.to_dict() == manifest.to_dict()
    raw = manifest.canonical_bytes()
    assert parse_manifest_bytes(raw).to_dict() == manifest.to_dict()
    assert Manifest.parse(json.loads(raw)).inputs == manifest.inputs
    assert [t.name for t in manifest.inputs] == [v.name for v in inputs]
    assert manifest.warmup is not None and manifest.warmup.shapes == shapes


@pytest.mark.parametrize(("dim", "accepted"), [
    (-1, True), (None, True), ("", True), ("x" * 5000, True), (0, True), (-2, False), (True, False), (1.5, False),
])
def test_the_device_reader_on_single_dimensions(dim: Any, accepted: bool) -> None:
    from device_runtime.package_format.errors import StoreError
    from device_runtime.package_format.manifest import TensorSpec

    data = {"name": "x", "dtype": "float32", "shape": [dim], "profile": None}
    if accepted:
        assert TensorSpec.parse(data, "inputs[0]").shape == [dim]
    else:
        with pytest.raises(StoreError, match="use a size >= 0, a symbol"):
            TensorSpec.parse(data, "inputs[0]")


def test_build_records_literal_minus_one_and_computed_dims_as_dynamic(tmp_path: Path) -> None:
    value = helper.make_tensor_value_info("x", TensorProto.FLOAT, [-1, 3, "(floor(h/2 - 1/2) + 1)*2", None])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [value],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    with pytest.raises(PackageError, match=r"input 'x' \?x3x\?x\?: add --shape x:1x3xNxN"):
        build_package(path, tmp_path / "m.tar.gz", "m", "1.0.0", "tests")
    assert not (tmp_path / "m.tar.gz").exists()
    manifest = build_package(path, tmp_path / "m.tar.gz", "m", "1.0.0", "tests", shapes={"x": [1, 3, 8, 8]})
    assert manifest.inputs[0].shape == [None, 3, "(floor(h/2 - 1/2) + 1)*2", None]
    assert manifest.outputs[0].shape == []
