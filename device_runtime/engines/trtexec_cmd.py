"""trtexec command lines for a build or benchmark, per TensorRT generation.

The matching progress-line classifier lives in :mod:`device_runtime.engines.trtexec_progress`.

Flag availability checked against ``samples/common/sampleOptions.cpp`` in NVIDIA/TensorRT at
tags 8.2.1, 8.4.1, 8.5.1, 8.6.1, 10.0.0, 10.3.0, 10.12.0, 11.0 and 11.1:

* ``--memPoolSize=workspace:N`` from 8.4 (``--workspace=N`` deprecated then, removed in 10.0).
* ``--skipInference`` from 8.6 (``--buildOnly`` before; removed in 10.0).
* ``--builderOptimizationLevel`` and ``--versionCompatible`` from 8.6.
* ``--stronglyTyped`` from 10.0 (a no-op in 11.x, so not emitted there).
* ``--fp16/--int8/--best`` up to 10.x; 11.x builds take the precision from the ONNX. A Q/DQ
  ONNX on 8.x gets ``--int8 --fp16`` (8.x has no strong typing).
* 11.x benchmarks default to CUDA graphs, spin-wait, no data transfers and a separate profile
  run; ``--includeDataTransfers`` turns copies back on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from device_runtime.engines.trt_plan import BuildRequest, Shape
from device_runtime.engines.trt_version import TrtVersion
from device_runtime.engines.trtexec_progress import BuildProgress, classify_progress_line

__all__ = ["BenchRequest", "BuildProgress", "bench_command", "build_command", "classify_progress_line"]


def _dims(shape: Shape) -> str:
    return "x".join(str(dim) for dim in shape)


def _shapes(request: BuildRequest, which: str) -> str:
    return ",".join("%s:%s" % (p.input_name, _dims(getattr(p, which))) for p in request.profiles)


def build_command(
    request: BuildRequest,
    version: TrtVersion,
    engine_path: str,
    trtexec: str = "trtexec",
    verbose: bool = True,
) -> List[str]:
    """argv for ``trtexec`` building ``request.onnx_path`` into ``engine_path`` (no inference).

    Validate the request with ``plan_build`` first: this function only spells it.
    """
    argv = [trtexec, "--onnx=%s" % request.onnx_path, "--saveEngine=%s" % engine_path]
    if request.workspace_mib:
        if version.at_least(8, 4):
            argv.append("--memPoolSize=workspace:%d" % request.workspace_mib)
        else:
            argv.append("--workspace=%d" % request.workspace_mib)
    weak = request.precision != "fp32" and not (request.strongly_typed and version.major >= 10)
    qdq_on_8 = version.major == 8 and request.precision in ("int8", "best") and (
        request.has_qdq or request.strongly_typed)
    if qdq_on_8:
        argv.extend(["--int8", "--fp16"])  # Q/DQ sets INT8; FP16 for the layers outside the pairs
    elif weak and version.major < 11:
        argv.extend({"fp16": ["--fp16"], "int8": ["--int8"], "best": ["--best"]}[request.precision])
    if request.strongly_typed and version.major == 10:
        argv.append("--stronglyTyped")
    if request.profiles:
        argv.extend(
            [
                "--minShapes=%s" % _shapes(request, "min"),
                "--optShapes=%s" % _shapes(request, "opt"),
                "--maxShapes=%s" % _shapes(request, "max"),
            ]
        )
    if request.timing_cache_path:
        argv.append("--timingCacheFile=%s" % request.timing_cache_path)
    if request.opt_level is not None and version.at_least(8, 6):
        argv.append("--builderOptimizationLevel=%d" % request.opt_level)
    if request.dla_core is not None:
        argv.extend(["--useDLACore=%d" % request.dla_core, "--allowGPUFallback"])
    if request.version_compatible and version.at_least(8, 6):
        argv.append("--versionCompatible")
    argv.append("--skipInference" if version.at_least(8, 6) else "--buildOnly")
    if verbose:
        argv.append("--verbose")
    return argv


@dataclass
class BenchRequest:
    engine_path: str
    shapes: Optional[str] = None  # "input:1x3x224x224,..."
    export_times_path: Optional[str] = None
    export_profile_path: Optional[str] = None
    include_data_transfers: bool = True
    warmup_ms: int = 200
    duration_s: int = 3
    iterations: int = 10
    percentiles: str = "90,95,99"
    dla_core: Optional[int] = None


def bench_command(request: BenchRequest, version: TrtVersion, trtexec: str = "trtexec") -> List[str]:
    """argv benchmarking a saved engine with stable-timing flags for this generation."""
    argv = [trtexec, "--loadEngine=%s" % request.engine_path]
    if request.shapes:
        argv.append("--shapes=%s" % request.shapes)
    argv.append("--warmUp=%d" % request.warmup_ms)
    argv.append("--duration=%d" % request.duration_s)
    argv.append("--iterations=%d" % request.iterations)
    if version.at_least(8, 5):
        argv.append("--percentile=%s" % request.percentiles)
    if request.export_times_path:
        argv.append("--exportTimes=%s" % request.export_times_path)
    if request.export_profile_path:
        argv.extend(["--exportProfile=%s" % request.export_profile_path, "--dumpProfile"])
    if version.major >= 11:
        # Graphs, spin-wait and the separate profile run are the defaults; copies are off.
        if request.include_data_transfers:
            argv.append("--includeDataTransfers")
    else:
        argv.extend(["--useSpinWait", "--separateProfileRun"])
        if version.major >= 10:
            argv.append("--useCudaGraph")
        if not request.include_data_transfers:
            argv.append("--noDataTransfers")
    if request.dla_core is not None:
        argv.extend(["--useDLACore=%d" % request.dla_core, "--allowGPUFallback"])
    return argv
