"""The job kinds, in one explicit list. Importing this is cheap: kinds import onnx,
onnxruntime, numpy or tensorrt only inside ``run``, which happens in the worker process."""

from __future__ import annotations

from typing import Dict, List

from device_runtime.jobs.kinds.accuracy import AccuracyKind
from device_runtime.jobs.kinds.base import JobKind
from device_runtime.jobs.kinds.benchmark import BenchmarkKind
from device_runtime.jobs.kinds.build import BuildKind
from device_runtime.jobs.kinds.quantize import QuantizeKind
from device_runtime.jobs.kinds.validate import ValidateKind


def default_kinds() -> List[JobKind]:
    return [ValidateKind(), QuantizeKind(), BuildKind(), BenchmarkKind(), AccuracyKind()]


def kinds_by_name() -> Dict[str, JobKind]:
    return {kind.name: kind for kind in default_kinds()}
