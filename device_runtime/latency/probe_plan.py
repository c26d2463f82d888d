"""What the latency probe feeds and when it must stand aside: pure functions, no I/O.

Input shapes come from the probe's settings first, then the manifest's profile (its ``opt``
shape), then the manifest's static shape. A dynamic dimension with none of these cannot be
guessed (a batch of 1 and a batch of 64 are different latencies), so it is refused with the
input, its dimensions and a shape to try.

The probe backs off while a GPU-heavy job runs (two workloads on one GPU slow each other and
spoil the job's timings) and while the device throttles (numbers taken then say nothing about
the model). CPU clock alerts are not a reason: on many hosts the governor keeps busy cores
below their cap all day, and the probe would never run.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Sequence

from device_runtime.protocol import (
    PROBE_MAX_RATE_HZ,
    PROBE_MIN_RATE_HZ,
    AlertEvent,
    JobInfo,
)

THROTTLING_KINDS = ("thermal_throttle", "power_cap")
MAX_DIM = 1 << 20
MAX_ELEMENTS = 1 << 28  # 1 GiB of float32: anything larger is a typo, not a probe input


class ProbeRefused(ValueError):
    """Settings the probe cannot run with; the message says why and what to do."""


def check_rate(rate_hz: float) -> float:
    if not math.isfinite(rate_hz) or rate_hz < 0:
        raise ProbeRefused("rate %r Hz is not a rate: use %g to %g Hz, or 0 (off)"
                           % (rate_hz, PROBE_MIN_RATE_HZ, PROBE_MAX_RATE_HZ))
    if rate_hz == 0:
        return 0.0
    if not PROBE_MIN_RATE_HZ <= rate_hz <= PROBE_MAX_RATE_HZ:
        raise ProbeRefused("rate %g Hz is out of range: the probe runs at %g to %g Hz, or 0 (off), so it "
                           "never competes with the robot's own inference" % (rate_hz, PROBE_MIN_RATE_HZ,
                                                                              PROBE_MAX_RATE_HZ))
    return float(rate_hz)


def _spell(dims: Sequence[Any]) -> str:
    return "[%s]" % ", ".join("?" if d is None else str(d) for d in dims)


def _example(dims: Sequence[Any]) -> str:
    return "x".join(str(d) if isinstance(d, int) and d > 0 else "1" for d in dims)


def _is_fixed(dim: Any) -> bool:
    return isinstance(dim, int) and not isinstance(dim, bool) and dim > 0


def _checked(name: str, dims: Sequence[Any], given: Sequence[int], model: str) -> List[int]:
    shape = [int(d) for d in given]
    if dims and len(shape) != len(dims):
        raise ProbeRefused("input %r of %s has %d dimensions %s but the shape given has %d (%s)"
                           % (name, model, len(dims), _spell(dims), len(shape), "x".join(map(str, shape))))
    elements = 1
    for index, size in enumerate(shape):
        if not 0 < size <= MAX_DIM:
            raise ProbeRefused("input %r: dimension %d of the shape given is %d; it must be 1 to %d"
                               % (name, index, size, MAX_DIM))
        if index < len(dims) and _is_fixed(dims[index]) and dims[index] != size:
            raise ProbeRefused("input %r of %s has a fixed dimension %d of %d %s but the shape given says %d"
                               % (name, model, index, dims[index], _spell(dims), size))
        elements *= size
    if elements > MAX_ELEMENTS:
        raise ProbeRefused("input %r: shape %s holds %d values, too many for a probe input"
                           % (name, "x".join(map(str, shape)), elements))
    return shape


def resolve_shapes(model: str, inputs: Sequence[Any], given: Mapping[str, Sequence[int]]) -> Dict[str, List[int]]:
    """A concrete shape per input. ``inputs``: the manifest's TensorSpecs (name, shape, profile)."""
    names = [spec.name for spec in inputs]
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ProbeRefused("%s has no input named %s; its inputs are %s"
                           % (model, ", ".join(unknown), ", ".join(names) or "none"))
    shapes: Dict[str, List[int]] = {}
    missing: List[Any] = []
    for spec in inputs:
        dims = list(spec.shape)
        if spec.name in given:
            shapes[spec.name] = _checked(spec.name, dims, given[spec.name], model)
        elif spec.profile:
            shapes[spec.name] = list(spec.profile["opt"])
        elif all(_is_fixed(d) for d in dims):
            shapes[spec.name] = [int(d) for d in dims]
        else:
            missing.append(spec)
    if missing:
        what = "; ".join("%r %s (dynamic: %s)" % (s.name, _spell(s.shape), ", ".join(
            "?" if d is None else str(d) for d in s.shape if not _is_fixed(d))) for s in missing)
        example = " ".join("--shape %s:%s" % (s.name, _example(s.shape)) for s in missing)
        raise ProbeRefused("%s has dynamic input dimensions and neither the probe settings nor the package's "
                           "manifest give a shape for %s. Set one for each, e.g. edgectl probe --model %s --rate 5 %s"
                           % (model, what, model, example))
    return shapes


def is_throttling(alert: AlertEvent) -> bool:
    if alert.end is not None:
        return False
    return alert.kind in THROTTLING_KINDS or (alert.kind == "clocks_below_max" and alert.source == "gpu")


def backoff_reason(gpu_jobs: Sequence[JobInfo], alerts: Sequence[AlertEvent]) -> Optional[str]:
    """Why the probe must pause now, in words; None when it may run."""
    if gpu_jobs:
        job = sorted(gpu_jobs, key=lambda j: j.created)[0]
        name = "%s job %s" % (job.kind, job.id) + (" (%s)" % job.label if job.label else "")
        return ("paused while the %s runs: GPU jobs run alone so their timings stay clean; the probe resumes "
                "when it ends" % name)
    throttling = [a for a in alerts if is_throttling(a)]
    if throttling:
        alert = sorted(throttling, key=lambda a: a.start)[0]
        return ("paused while the device throttles (%s on %s): latency measured now would not describe the "
                "model; the probe resumes when the alert ends" % (alert.kind.replace("_", " "), alert.source))
    return None
