"""Golden inputs and expected outputs for the commissioning smoke test, and how they reach the
device's accuracy job.

A golden folder holds one or more cases. A case is ``NAME.npz`` (one array per model input,
named like the input) or ``NAME.npy`` (a single-input model), next to ``NAME.expected.npz`` (one
array per checked output) or ``NAME.expected.npy`` (a single-output model). Each file holds
exactly one model call: tensors shaped as the model takes and returns them, batch axis
included. An optional ``tolerances.json`` (``{"atol": 0.001, "rtol": 0.01}``) replaces the
accuracy job's defaults for the model's precision.

The device's accuracy job compares a candidate model with a reference model on the same inputs.
For a golden case the reference is a small ONNX model that returns the expected outputs as
constants; its inputs are declared with the case's exact shapes, so the job feeds each case to
the deployed model in one call and applies its usual ``|c - r| <= atol + rtol * |r|`` rule.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_CASES = 16
EXPECTED = ".expected"
SUFFIXES = (".npz", ".npy")


class GoldenError(ValueError):
    """Golden data that cannot be used; the message names the file and says what to do."""


@dataclass
class GoldenCase:
    name: str
    inputs: dict[str, Any]  # input name -> numpy array
    expected: dict[str, Any]  # output name -> numpy array


def _stem(path: Path) -> str:
    return path.name[: -len(path.suffix)]


def find_cases(folder: Path) -> list[tuple[str, Path, Path]]:
    """(case name, inputs file, expected file) for each case, sorted by name."""
    if not folder.is_dir():
        raise GoldenError("the golden folder %s does not exist or is not a folder" % folder)
    files = {p.name: p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file()}
    cases = []
    for name, path in sorted(files.items()):
        stem = _stem(path)
        if stem.endswith(EXPECTED):
            if not any(stem[: -len(EXPECTED)] + s in files for s in SUFFIXES):
                raise GoldenError("%s has no inputs file next to it (%s.npz or %s.npy)"
                                  % (name, stem[: -len(EXPECTED)], stem[: -len(EXPECTED)]))
            continue
        partner = next((files[stem + EXPECTED + s] for s in SUFFIXES if stem + EXPECTED + s in files), None)
        if partner is None:
            raise GoldenError("%s has no expected outputs next to it: save them as %s%s.npz (one array per "
                              "output name) or %s%s.npy" % (name, stem, EXPECTED, stem, EXPECTED))
        cases.append((stem, path, partner))
    if not cases:
        raise GoldenError("%s holds no golden cases: give NAME.npz (inputs) with NAME.expected.npz (outputs), "
                          "saved with numpy.savez" % folder)
    if len(cases) > MAX_CASES:
        raise GoldenError("%s holds %d cases; the smoke test takes at most %d" % (folder, len(cases), MAX_CASES))
    return cases


def _arrays(path: Path, single_name: str | None, what: str) -> dict[str, Any]:
    import numpy as np

    try:
        loaded = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise GoldenError("cannot read %s as NumPy data (%s): save it with numpy.save or numpy.savez"
                          % (path, str(exc)[:200])) from None
    if path.suffix.lower() == ".npy":
        if single_name is None:
            raise GoldenError("%s is a single array, but the model has several %ss: use a .npz with one array "
                              "per %s name" % (path, what, what))
        arrays = {single_name: loaded}
    else:
        arrays = {key: loaded[key] for key in loaded.files}
    for key, array in arrays.items():
        if array.dtype.kind not in "fiub":
            raise GoldenError("%s: array %r has type %s; numbers are needed" % (path, key, array.dtype))
    return arrays


def load_cases(folder: Path, input_names: list[str], output_names: list[str]) -> list[GoldenCase]:
    """Every case, checked against the model's input and output names."""
    cases = []
    single_in = input_names[0] if len(input_names) == 1 else None
    single_out = output_names[0] if len(output_names) == 1 else None
    for name, inputs_file, expected_file in find_cases(folder):
        inputs = _arrays(inputs_file, single_in, "input")
        missing = [n for n in input_names if n not in inputs]
        extra = [n for n in inputs if n not in input_names]
        if missing or extra:
            raise GoldenError("%s has arrays %s, but the model's inputs are %s%s%s" % (
                inputs_file.name, sorted(inputs), input_names,
                " (missing: %s)" % ", ".join(missing) if missing else "",
                " (not inputs: %s)" % ", ".join(extra) if extra else ""))
        expected = _arrays(expected_file, single_out, "output")
        unknown = [n for n in expected if n not in output_names]
        if unknown:
            raise GoldenError("%s has arrays %s that are not outputs of the model (its outputs are %s)"
                              % (expected_file.name, ", ".join(sorted(unknown)), output_names))
        if not expected:
            raise GoldenError("%s holds no arrays" % expected_file.name)
        cases.append(GoldenCase(name, inputs, expected))
    return cases


def tolerances(folder: Path) -> tuple[float | None, float | None]:
    """``tolerances.json``'s atol and rtol, or (None, None) for the job's defaults."""
    path = folder / "tolerances.json"
    if not path.exists():
        return None, None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GoldenError("%s is not valid JSON (%s); write e.g. {\"atol\": 0.001, \"rtol\": 0.01}"
                          % (path, exc)) from None
    if not isinstance(data, dict) or set(data) - {"atol", "rtol"}:
        raise GoldenError("%s may hold only atol and rtol, e.g. {\"atol\": 0.001, \"rtol\": 0.01}" % path)
    values: list[float | None] = []
    for key in ("atol", "rtol"):
        value = data.get(key)
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)
                                  or not math.isfinite(value) or value < 0):
            raise GoldenError("%s: %s must be a number of 0 or more (got %r)" % (path, key, value))
        values.append(None if value is None else float(value))
    return values[0], values[1]


def write_case(case: GoldenCase, folder: Path, input_dtypes: dict[str, str]) -> tuple[Path, Path]:
    """Write the case's inputs (.npz) and its constant reference model (.onnx) into ``folder``."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    folder.mkdir(parents=True, exist_ok=True)
    inputs = {name: np.asarray(a).astype(input_dtypes.get(name, np.asarray(a).dtype.name))
              for name, a in case.inputs.items()}
    data = folder / ("%s.inputs.npz" % case.name)
    np.savez(data, **inputs)  # type: ignore[arg-type]
    graph_inputs = [helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(a.dtype), list(a.shape))
                    for name, a in inputs.items()]
    nodes, outputs = [], []
    for name, array in case.expected.items():
        value = np.ascontiguousarray(array)
        nodes.append(helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name + "_value")))
        outputs.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(value.dtype),
                                                     list(value.shape)))
    graph = helper.make_graph(nodes, "golden_%s" % case.name, graph_inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="edge-console")
    model.ir_version = 8
    reference = folder / ("%s.expected.onnx" % case.name)
    onnx.save(model, str(reference))
    return data, reference
