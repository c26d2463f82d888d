"""accuracy: a candidate model against an FP32 ONNX Runtime reference on the same inputs.

The reference always runs FP32 on the CPU provider (the numerical ground truth); the candidate
runs on the best provider the device has. Inputs are the user's ``.npy``/``.npz`` data or
uniform random data within the declared ranges (default [0, 1) for floats).

Per output: max absolute error, max relative error (|c - r| / max(|r|, 1e-6)), mean absolute
error and cosine similarity over all samples. An output passes when every element satisfies
``|c - r| <= atol + rtol * |r|`` (numpy's ``allclose`` rule). Defaults by candidate precision
(``DEFAULT_TOLERANCES``): FP32 atol 1e-4 / rtol 1e-3 (graph optimisations reorder float sums);
FP16 atol 1e-2 / rtol 1e-2 (a 10-bit mantissa); INT8 atol 0.1 / rtol 0.1 (one quantisation step
of a typical activation range compounds over layers; a task metric is the final word for INT8).
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from device_runtime.jobs.kinds.base import JobFailed, JobKind, JobRefused, WorkerContext
from device_runtime.jobs.kinds.onnx_io import (
    best_providers,
    integer_ranges,
    open_session,
    random_inputs,
    require_file,
    resolve_shapes,
    session_inputs,
)
from device_runtime.protocol import AccuracyReport, AccuracySpec, Capabilities, OutputError, Record

DEFAULT_TOLERANCES: Dict[str, Tuple[float, float]] = {
    "fp32": (1e-4, 1e-3),
    "fp16": (1e-2, 1e-2),
    "mixed": (1e-2, 1e-2),
    "int8": (0.1, 0.1),
}
MAX_SAMPLES = 10000
_REL_FLOOR = 1e-6


def as_numbers(value: Any) -> Any:
    """An output as a flat float64 array; a sequence of maps (ONNX-ML ZipMap: class -> score) by its values
    in key order, so classic-ML models compare too."""
    import numpy as np

    if isinstance(value, list) and value and isinstance(value[0], dict):
        return np.array([[float(item[key]) for key in sorted(item)] for item in value], dtype=np.float64).ravel()
    return np.asarray(value, dtype=np.float64).ravel()


def compare(name: str, refs: List[Any], cands: List[Any], atol: float, rtol: float) -> OutputError:
    import numpy as np

    ref = np.concatenate([as_numbers(r) for r in refs])
    cand = np.concatenate([as_numbers(c) for c in cands])
    if not np.all(np.isfinite(cand)):
        return OutputError(name, float("inf"), float("inf"), float("inf"), 0.0, False)
    diff = np.abs(cand - ref)
    rel = diff / np.maximum(np.abs(ref), _REL_FLOOR)
    norms = float(np.linalg.norm(ref) * np.linalg.norm(cand))
    cosine = float(np.dot(ref, cand) / norms) if norms > 0 else (1.0 if not diff.any() else 0.0)
    passed = bool(np.all(diff <= atol + rtol * np.abs(ref)))
    return OutputError(name, float(diff.max(initial=0.0)), float(rel.max(initial=0.0)),
                       float(diff.mean()) if diff.size else 0.0, cosine, passed)


class AccuracyKind(JobKind):
    name = "accuracy"
    gpu = True
    spec_type = AccuracySpec

    def check(self, spec: Any, capabilities: Capabilities) -> None:
        assert isinstance(spec, AccuracySpec)
        if not 1 <= spec.samples <= MAX_SAMPLES:
            raise JobRefused("samples must be 1 to %d" % MAX_SAMPLES)
        if (spec.atol is not None and spec.atol < 0) or (spec.rtol is not None and spec.rtol < 0):
            raise JobRefused("atol and rtol must not be negative")
        if spec.precision is not None and spec.precision not in DEFAULT_TOLERANCES:
            raise JobRefused("precision must be one of %s" % ", ".join(DEFAULT_TOLERANCES))
        if spec.candidate.lower().endswith((".engine", ".plan", ".trt")):
            raise JobRefused("the accuracy job compares ONNX models on ONNX Runtime; check the (quantized) ONNX "
                             "the engine was built from")

    def run(self, spec: Any, ctx: WorkerContext) -> Record:
        import numpy as np

        from device_runtime.jobs.kinds.validate import model_precision

        assert isinstance(spec, AccuracySpec)
        require_file(spec.reference, "reference model")
        require_file(spec.candidate, "candidate model")
        precision = spec.precision or model_precision(spec.candidate)
        atol_default, rtol_default = DEFAULT_TOLERANCES.get(precision, DEFAULT_TOLERANCES["fp32"])
        atol = spec.atol if spec.atol is not None else atol_default
        rtol = spec.rtol if spec.rtol is not None else rtol_default
        ctx.progress(0.0, "loading both models", force=True)
        reference = open_session(spec.reference, ["CPUExecutionProvider"])
        candidate = open_session(spec.candidate, best_providers())
        inputs = session_inputs(reference)
        cand_inputs = {name: dtype for name, _, dtype in session_inputs(candidate)}
        missing = sorted(set(cand_inputs) - {name for name, _, _ in inputs})
        if missing:
            raise JobFailed("the candidate has inputs the reference lacks (%s): compare versions of one model"
                            % ", ".join(missing))
        ref_outputs = [o.name for o in reference.get_outputs()]
        cand_outputs = {o.name for o in candidate.get_outputs()}
        lacking = [name for name in ref_outputs if name not in cand_outputs]
        if lacking:
            raise JobFailed("the candidate has no output named %s: compare versions of one model" % ", ".join(lacking))
        from device_runtime.jobs.kinds.benchmark import package_sample

        data = spec.data or package_sample(spec.reference, bool(spec.shapes), ctx)
        if data:
            from device_runtime.jobs.kinds.calibration import load_samples

            feeds = load_samples(data, inputs, {}, spec.samples)
        else:
            shapes = resolve_shapes([(name, dims) for name, dims, _ in inputs], spec.shapes)
            decl = [(name, dtype) for name, _, dtype in inputs]
            ranges = {**integer_ranges(spec.reference), **spec.ranges}
            feeds = [random_inputs(decl, shapes, seed=i, ranges=ranges) for i in range(spec.samples)]
        refs: Dict[str, List[Any]] = {name: [] for name in ref_outputs}
        cands: Dict[str, List[Any]] = {name: [] for name in ref_outputs}
        for index, feed in enumerate(feeds):
            try:
                ref_values = reference.run(ref_outputs, feed)
                cand_feed = {name: np.asarray(value).astype(cand_inputs[name]) for name, value in feed.items()
                             if name in cand_inputs}
                cand_values = candidate.run(ref_outputs, cand_feed)
            except Exception as exc:
                raise JobFailed("running sample %d failed: %s" % (index, str(exc).strip()[:400])) from None
            for name, ref_value, cand_value in zip(ref_outputs, ref_values, cand_values):
                refs[name].append(ref_value)
                cands[name].append(cand_value)
            ctx.progress(0.1 + 0.8 * (index + 1) / len(feeds), "sample %d/%d" % (index + 1, len(feeds)))
        outputs = [compare(name, refs[name], cands[name], atol, rtol) for name in ref_outputs]
        for out in outputs:
            ctx.log("%s: max abs %.3g, max rel %.3g, mean abs %.3g, cosine %.6f -> %s" % (
                out.name, out.max_abs, out.max_rel, out.mean_abs, out.cosine, "pass" if out.passed else "FAIL"))
        return AccuracyReport(
            candidate=spec.candidate,
            reference=spec.reference,
            samples=len(feeds),
            atol=atol,
            rtol=rtol,
            passed=all(out.passed for out in outputs),
            precision=precision,
            outputs=outputs,
        )
