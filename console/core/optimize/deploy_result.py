"""What an Optimize pipeline leaves to deploy: its ONNX result, deployed as the next version of a model
the device already has (an optimised detector is detector 1.0.1, not a new model "detector.fp16")."""

from __future__ import annotations

from collections.abc import Sequence

from console.core.models.tracker import StoreSnapshot, next_version
from console.core.optimize.plan import Step
from device_runtime.protocol import QuantizeSpec


def result_onnx(steps: Sequence[Step], model: str) -> str | None:
    """The ONNX file the pipeline ends with (its last quantize output, else the model it started
    from); None when it ends in a TensorRT engine, which is packaged with its ONNX by edgectl."""
    if any(kind == "build" for kind, _, _ in steps):
        return None
    result = model
    for _kind, spec, _label in steps:
        if isinstance(spec, QuantizeSpec):
            result = spec.output
    return result


def version_after(snapshot: StoreSnapshot, name: str) -> str:
    """The version the result becomes as ``name``: the next patch after its newest kept one."""
    entry = snapshot.models.get(name)
    return next_version(entry.versions if entry is not None else None)
