"""Engine identity (the rollback key) and whether a stored engine can run on this device.

TensorRT plans are tied to the exact TensorRT version (major.minor.patch; the build too per
NVIDIA's DRIVE OS notes) and to the GPU's compute capability. Version-compatible plans (built
with TensorRT >= 8.6) also run on newer TensorRT of the same major. Hardware compatibility mode is
not relied on: it is Ampere+ dGPU only and reported unsupported on JetPack.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional

from device_runtime.engines.trt_plan import BuildPlan, DeviceFacts
from device_runtime.engines.trt_version import TrtVersion

META_SCHEMA = 1


@dataclass
class EngineMeta:
    onnx_sha256: str
    precision: str
    strongly_typed: bool
    builder_flags: List[str]
    profiles: Dict[str, Dict[str, List[int]]]
    opt_level: Optional[int]
    dla_core: Optional[int]
    version_compatible: bool
    trt_version: str
    compute_capability: str
    l4t: Optional[str] = None
    jetpack: Optional[str] = None
    board_model: str = ""
    schema: int = META_SCHEMA
    extra: Dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Dict[str, object]) -> EngineMeta:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)  # type: ignore[arg-type]


def sha256_file(path: str, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def make_engine_meta(plan: BuildPlan, facts: DeviceFacts, onnx_sha256: str) -> EngineMeta:
    """The record stored next to a plan; every field changes what the engine is."""
    return EngineMeta(
        onnx_sha256=onnx_sha256,
        precision=plan.precision,
        strongly_typed=plan.strongly_typed,
        builder_flags=list(plan.builder_flags),
        profiles={
            p.input_name: {"min": list(p.min), "opt": list(p.opt), "max": list(p.max)} for p in plan.profiles
        },
        opt_level=plan.optimization_level,
        dla_core=plan.dla_core,
        version_compatible="VERSION_COMPATIBLE" in plan.builder_flags,
        trt_version=facts.trt_version,
        compute_capability=facts.compute_capability,
        l4t=facts.l4t,
        jetpack=facts.jetpack,
        board_model=facts.board_model,
    )


def _built_for(meta: EngineMeta) -> str:
    where = "engine built with TensorRT %s for compute capability %s" % (meta.trt_version, meta.compute_capability)
    if meta.l4t:
        where += " on L4T %s" % meta.l4t
    return where


def _device(facts: DeviceFacts) -> str:
    return "this device has TensorRT %s, compute capability %s" % (facts.trt_version, facts.compute_capability)


def check_engine_compat(meta: EngineMeta, facts: DeviceFacts) -> Optional[str]:
    """None when the engine can be loaded here, else a message saying what to do."""
    built = TrtVersion.parse(meta.trt_version)
    here = TrtVersion.parse(facts.trt_version)
    rebuild = "rebuild it from the package's ONNX"
    if built is None or here is None:
        return "cannot compare TensorRT versions (%r vs %r): %s" % (meta.trt_version, facts.trt_version, rebuild)
    problems: List[str] = []
    if meta.compute_capability != facts.compute_capability:
        problems.append("GPU architecture differs")
    if built != here:
        portable = meta.version_compatible and built.at_least(8, 6) and built.major == here.major and here > built
        if not portable:
            problems.append("TensorRT version differs")
    if meta.dla_core is not None and meta.dla_core >= _dla_cores(facts):
        problems.append("DLA core %d is not available" % meta.dla_core)
    if not problems:
        return None
    return "%s; %s: %s" % (_built_for(meta), _device(facts), rebuild)


def _dla_cores(facts: DeviceFacts) -> int:
    return max(facts.dla_cores, 0)
