"""Every optimise verb on every zoo model, through the real job service and its worker processes,
against the outcome written beside it in ``expect_optimize.json``.

Per model the file holds the data a user would give (``inputs``: per input a shape, a dtype and a
``value`` or a ``[low, high)`` range; they become ``.npz`` files here) and each verb's expected outcome:
``"works"``, or ``{"refused": [words]}`` where the words name the reason and the fix; optionally the
``parameters`` and ``precision`` validate must report. The verbs:
``validate``; ``fp16`` and ``int8`` (quantize; INT8 calibrates on two generated samples); ``bench``
(0.2 s on the data); ``accuracy`` (the FP16 output against the model when FP16 works, else the model
against itself, which still runs the data path). Kept short for CI: tiny durations, two samples.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from device_runtime import protocol as p
from tests.support.jobs_harness import Harness, capabilities
from tests.zoo import BY_NAME, ZOO, expectations

EXPECT = expectations("optimize")
VERBS = ("validate", "fp16", "int8", "bench", "accuracy")
SAMPLES = 2


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    """One job service for the matrix: a worker process per job, as on a device."""
    with tempfile.TemporaryDirectory(prefix="eoc-zoo-") as tmp:
        h = Harness(Path(tmp) / "root", capabilities())
        yield h
        h.close()


def write_data(spec: dict[str, Any], path: Path, samples: int, seed: int = 0) -> Path:
    """``samples`` inputs stacked on a new first axis (one value per sample for scalars) as .npz."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, entry in spec.items():
        shape = [samples, *entry.get("shape", [])]
        if "value" in entry:
            arrays[name] = np.full(shape, entry["value"], dtype=entry["dtype"])
        elif np.dtype(entry["dtype"]).kind in "iu":
            arrays[name] = rng.integers(entry["low"], entry["high"], size=shape).astype(entry["dtype"])
        else:
            arrays[name] = rng.uniform(entry["low"], entry["high"], size=shape).astype(entry["dtype"])
    np.savez(path, **arrays)
    return path


def _job(h: Harness, kind: str, spec: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    try:
        info = h.submit(kind, spec)
    except p.ProtocolError as exc:
        return "refused", str(exc), {}
    done = h.wait_final(info.id, timeout=600)
    if done.state == p.JOB_SUCCEEDED:
        return "works", json.dumps(done.result)[:600], done.result or {}
    return "refused", done.error or done.state, {}


def run_verbs(h: Harness, name: str, scratch: Path) -> dict[str, tuple[str, str, dict[str, Any]]]:
    source = str(BY_NAME[name].path())
    inputs = EXPECT[name]["inputs"]
    calib = write_data(inputs, scratch / "calib.npz", SAMPLES)
    data = write_data(inputs, scratch / "data.npz", SAMPLES, seed=1)
    got = {"validate": _job(h, "validate", {"model": source})}
    fp16 = str(scratch / "model.fp16.onnx")
    got["fp16"] = _job(h, "quantize", {"model": source, "output": fp16, "precision": "fp16",
                                       "calibration": str(data)})
    got["int8"] = _job(h, "quantize", {"model": source, "output": str(scratch / "model.int8.onnx"),
                                       "precision": "int8", "calibration": str(calib), "max_samples": SAMPLES})
    got["bench"] = _job(h, "benchmark", {"model": source, "seconds": 0.2, "warmup_s": 0.05, "data": str(data)})
    candidate = fp16 if got["fp16"][0] == "works" else source
    got["accuracy"] = _job(h, "accuracy", {"candidate": candidate, "reference": source, "data": str(data),
                                           "samples": SAMPLES})
    return got


def matches(expected: Any, outcome: tuple[str, str, dict[str, Any]]) -> bool:
    if expected == "works":
        return outcome[0] == "works"
    return outcome[0] == "refused" and all(word in outcome[1] for word in expected["refused"])


def test_every_zoo_model_has_optimize_expectations() -> None:
    assert sorted(EXPECT) == sorted(m.name for m in ZOO)
    for name, expect in EXPECT.items():
        assert set(expect) <= {*VERBS, "inputs", "why", "parameters", "precision"}, name
        assert all(verb in expect for verb in VERBS), name
        for verb in VERBS:
            assert expect[verb] == "works" or (isinstance(expect[verb], dict) and expect[verb]["refused"]), (name, verb)


@pytest.mark.slow
@pytest.mark.parametrize("model_name", [m.name for m in ZOO])
def test_optimize_verbs_on_a_zoo_model(harness: Harness, tmp_path: Path, model_name: str) -> None:
    got = run_verbs(harness, model_name, tmp_path)
    expect = EXPECT[model_name]
    wrong = ["%s: expected %s, got %s: %s" % (verb, json.dumps(expect[verb]), outcome[0], outcome[1][-600:])
             for verb, outcome in got.items() if not matches(expect[verb], outcome)]
    assert not wrong, "\n".join(wrong)
    validate = p.ValidateReport.from_wire(got["validate"][2])
    for fact in ("parameters", "precision"):
        if fact in expect:
            assert getattr(validate, fact) == expect[fact], (fact, getattr(validate, fact))
    if got["int8"][0] == "works":
        result = p.QuantizeResult.from_wire(got["int8"][2])
        assert result.qdq_findings == [] and result.quantized_nodes > 0 and result.proof
