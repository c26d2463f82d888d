"""Build-relevant facts about this device, from its capabilities (no TensorRT import).

Jetson modules have no NVML, so their compute capability comes from the board model. Fast FP16
exists on compute capability 5.3 and 6.2 (Jetson TX1/Nano, TX2), 6.0 (P100) and 7.0 onwards;
Maxwell/Pascal desktop parts (5.0, 5.2, 6.1) run FP16 at a fraction of FP32 speed.
"""

from __future__ import annotations

from typing import Optional

from device_runtime.engines.trt_plan import DeviceFacts
from device_runtime.protocol import Capabilities

# Board model substring -> compute capability of its integrated GPU.
_JETSON_CC = (("thor", "11.0"), ("orin", "8.7"), ("xavier", "7.2"), ("tx2", "6.2"), ("nano", "5.3"), ("tx1", "5.3"))
_SLOW_FP16 = ("5.0", "5.2", "6.1")


def compute_capability(caps: Capabilities) -> Optional[str]:
    for gpu in caps.gpus:
        if gpu.compute_capability:
            return gpu.compute_capability
    lowered = caps.board_model.lower()
    for key, cc in _JETSON_CC:
        if key in lowered:
            return cc
    return None


def has_fast_fp16(cc: str) -> bool:
    try:
        major = int(cc.split(".", maxsplit=1)[0])
    except ValueError:
        return True
    return cc not in _SLOW_FP16 and major >= 5


def device_facts(caps: Capabilities) -> Optional[DeviceFacts]:
    """None when the device has no TensorRT (nothing can be built)."""
    if not caps.tensorrt:
        return None
    cc = compute_capability(caps) or "unknown"
    return DeviceFacts(
        trt_version=caps.tensorrt,
        compute_capability=cc,
        dla_cores=caps.dla_cores,
        has_fast_fp16=has_fast_fp16(cc),
        board_model=caps.board_model,
        l4t=caps.l4t,
        jetpack=caps.jetpack,
    )
