"""What the Optimize wizard runs: the pipeline of jobs for a model, a precision and a backend.

A plain function of the person's choices and the device's TensorRT version, so the plan is
tested without Qt or a device. TensorRT 11 has no precision flags: FP16 and INT8 must come
from the ONNX, so on 11.x the plan quantizes first and builds the result as it is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from console.core.jobs.specs import SpecError
from device_runtime.protocol import AccuracySpec, BenchmarkSpec, BuildSpec, QuantizeSpec, Record

Step = tuple[str, Record, str]  # kind, spec, job label ("": the runtime names it after the pipeline)
PRECISIONS = ("fp32", "fp16", "int8")


@dataclass
class OptimizeChoice:
    model: str  # path on the device
    precision: str = "fp32"
    backend: str = "ort"  # "ort" or "trt"
    provider: str | None = None  # ONNX Runtime execution provider; None: the best available
    output_dir: str = ""  # on the device; empty: the model's folder
    shapes: dict[str, list[int]] = field(default_factory=dict)
    calibration: str | None = None
    calibrate_method: str = "minmax"
    seconds: float = 5.0
    preprocess: dict[str, object] = field(default_factory=dict)  # calibration images: size, layout, scale...
    baseline: bool = True  # benchmark the FP32 model too, for the comparison


def trt_major(version: str | None) -> int | None:
    if not version:
        return None
    head = version.split(".")[0]
    return int(head) if head.isdigit() else None


def _profile(dims: list[int]) -> str:
    shape = "x".join(str(d) for d in dims)
    return ",".join([shape, shape, shape])


def plan_pipeline(choice: OptimizeChoice, tensorrt: str | None) -> list[Step]:
    """The jobs, in order; raises :class:`SpecError` for a choice that cannot run."""
    if choice.precision not in PRECISIONS:
        raise SpecError("precision must be one of %s" % ", ".join(PRECISIONS))
    if choice.backend == "trt" and trt_major(tensorrt) is None:
        raise SpecError("TensorRT is not installed on this device; choose ONNX Runtime")
    if choice.precision == "int8" and not choice.calibration:
        raise SpecError("INT8 needs calibration data: a .npy / .npz file or a folder of them or of images")
    base = os.path.splitext(os.path.basename(choice.model))[0]
    folder = choice.output_dir or os.path.dirname(choice.model)
    name = "%s %s %s" % (base, choice.precision, "TensorRT" if choice.backend == "trt" else "ONNX Runtime")
    steps: list[Step] = []
    if choice.baseline and (choice.precision != "fp32" or choice.backend == "trt"):
        steps.append(("benchmark", BenchmarkSpec(choice.model, "ort", choice.provider, dict(choice.shapes),
                                                 seconds=choice.seconds, label="%s fp32 ONNX Runtime" % base),
                      ""))
    candidate = choice.model
    major = trt_major(tensorrt) or 0
    quantize = choice.precision != "fp32" and (choice.backend == "ort" or choice.precision == "int8" or major >= 11)
    if quantize:
        output = os.path.join(folder, "%s.%s.onnx" % (base, choice.precision))
        steps.append(("quantize", QuantizeSpec(choice.model, output, choice.precision, choice.calibration,
                                               preprocess=dict(choice.preprocess),
                                               calibrate_method=choice.calibrate_method),
                      ""))
        candidate = output
    if choice.backend == "trt":
        engine = os.path.join(folder, "%s.%s.engine" % (base, choice.precision))
        flags = [] if major >= 11 or choice.precision == "fp32" else [choice.precision]
        steps.append(("build", BuildSpec(candidate, engine, flags, {k: _profile(v) for k, v in choice.shapes.items()}),
                      ""))
        candidate = engine
    steps.append(("benchmark", BenchmarkSpec(candidate, choice.backend, choice.provider if choice.backend == "ort"
                                             else None, dict(choice.shapes), seconds=choice.seconds,
                                             label=name), ""))
    if candidate != choice.model:
        steps.append(("accuracy", AccuracySpec(candidate, choice.model, dict(choice.shapes),
                                               precision=choice.precision), ""))
    return steps


def pipeline_label(choice: OptimizeChoice) -> str:
    base = os.path.splitext(os.path.basename(choice.model))[0]
    return "%s %s %s" % (base, choice.precision, "trt" if choice.backend == "trt" else "ort")
