"""The latency probe: the active version of one stored model run at a low rate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from device_runtime.protocol.core import Empty, Method, Record, _record

# ---------------------------------------------------------------------------------------------
# Latency probe: the active version of one stored model run at a low rate (device_runtime/latency/probe.py).
# Its timings appear in the latency windows as source "probe:<model>": stage "total", and "infer" too
# for a TensorRT engine (ONNX Runtime's outputs land in host memory, so its infer time is its total).

TOPIC_PROBE = "probe"  # data: ProbeStatus, on every change of the probe's state, model, version or rate
PROBE_RUNNING = "running"
PROBE_PAUSED = "paused"  # backed off: a GPU job runs or the device throttles; ``reason`` says which
PROBE_OFF = "off"
PROBE_FAILED = "failed"  # ``reason`` says what happened and what to do
PROBE_STATES = (PROBE_RUNNING, PROBE_PAUSED, PROBE_OFF, PROBE_FAILED)
PROBE_MIN_RATE_HZ = 1.0
PROBE_MAX_RATE_HZ = 30.0
PROBE_SOURCE_PREFIX = "probe:"


@_record
@dataclass
class ProbeSettings(Record):
    """What the probe should run: ``rate_hz`` 0 turns it off; ``shapes`` fixes dynamic input dimensions."""

    model: Optional[str] = None
    rate_hz: float = 0.0
    shapes: Dict[str, List[int]] = field(default_factory=dict)


@_record
@dataclass
class ProbeStatus(Record):
    state: str  # one of PROBE_STATES
    model: Optional[str] = None
    version: Optional[str] = None  # the version the probe runs (the model's active one)
    rate_hz: float = 0.0
    reason: str = ""  # why paused, off or failed, in words
    source: Optional[str] = None  # "probe:<model>" in the latency windows
    backend: Optional[str] = None  # "onnxruntime" or "tensorrt"
    provider: Optional[str] = None  # e.g. CPUExecutionProvider, once loaded
    shapes: Dict[str, List[int]] = field(default_factory=dict)  # the input shapes it feeds
    count: int = 0  # inferences since the current version was loaded
    busy_s: float = 0.0  # seconds those inferences took, summed (count / busy_s: the duty cycle)
    last_ms: Optional[float] = None
    since: float = 0.0  # device time of the last state change


PROBE_GET = Method("probe.get", Empty, ProbeStatus)
PROBE_SET = Method("probe.set", ProbeSettings, ProbeStatus, changes_state=True, audit="probe")
