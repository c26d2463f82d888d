"""Whether a package's engine can run on this device, in words an operator can act on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from device_runtime.engines.engine_meta import EngineMeta, check_engine_compat
from device_runtime.engines.trt_plan import DeviceFacts
from device_runtime.package_format.manifest import Manifest


@dataclass
class StoreFacts:
    """The device's inference stack, from its capabilities."""

    tensorrt: Optional[str] = None
    compute_capability: Optional[str] = None
    dla_cores: int = 0
    l4t: Optional[str] = None
    jetpack: Optional[str] = None
    board: str = ""


def _rebuild_offer(manifest: Manifest) -> str:
    source = manifest.source_onnx()
    if source is not None:
        return (" The package carries its source ONNX (%s): deploy a package built from that ONNX for this device, "
                "or rebuild the engine here from it with a build job." % source.path)
    return " The package has no source ONNX: rebuild it with this device's TensorRT and GPU."


def engine_problem(manifest: Manifest, facts: StoreFacts) -> Optional[str]:
    """None when the package can load here, else what it was built for and what the device has."""
    engine = manifest.engine
    if manifest.backend != "tensorrt" or engine is None:
        return None
    built = "%s %s is a TensorRT engine built with TensorRT %s for compute capability %s%s" % (
        manifest.name, manifest.version, engine.tensorrt, engine.compute_capability,
        " on L4T %s" % engine.l4t if engine.l4t else "")
    if not facts.tensorrt or not facts.compute_capability:
        has = "this device has no TensorRT" if not facts.tensorrt else "this device has no NVIDIA GPU"
        return "%s; %s.%s" % (built, has, _rebuild_offer(manifest))
    dla = int(engine.target[3:]) if engine.target.startswith("dla") else None
    meta = EngineMeta(
        onnx_sha256=manifest.source_onnx_sha256 or "", precision=manifest.precision, strongly_typed=False,
        builder_flags=[], profiles={}, opt_level=None, dla_core=dla, version_compatible=engine.version_compatible,
        trt_version=engine.tensorrt, compute_capability=engine.compute_capability, l4t=engine.l4t,
        jetpack=engine.jetpack,
    )
    problem = check_engine_compat(meta, DeviceFacts(trt_version=facts.tensorrt,
                                                    compute_capability=facts.compute_capability,
                                                    dla_cores=facts.dla_cores, l4t=facts.l4t, jetpack=facts.jetpack))
    if problem is None:
        return None
    dla_note = " and %d DLA core(s)" % facts.dla_cores if dla is not None else ""
    return "%s%s; this device has TensorRT %s and compute capability %s%s.%s" % (
        built, " on DLA core %d" % dla if dla is not None else "", facts.tensorrt, facts.compute_capability,
        dla_note, _rebuild_offer(manifest))
