"""The latency probe's TensorRT runner on the strict fakes, with a CUDA runtime that keeps device memory
in Python: what reaches the device is checked byte for byte (BF16 inputs as bfloat16 bits)."""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np
import pytest

from device_runtime.latency.probe_trt import CudaRuntime, engine_runner, to_bf16_bits
from tests.support.trt_fakes import make_trt


class FakeCudart:
    """cudaMalloc / cudaMemcpy / cudaStreamCreate / cudaStreamSynchronize over Python buffers."""

    def __init__(self) -> None:
        self.memory: dict[int, bytearray] = {}

    def cudaMalloc(self, pointer: Any, size: ctypes.c_size_t) -> int:
        address = 0x1000 * (len(self.memory) + 1)
        self.memory[address] = bytearray(size.value)
        pointer._obj.value = address
        return 0

    def cudaMemcpy(self, dst: ctypes.c_void_p, src: ctypes.c_void_p, size: ctypes.c_size_t, kind: int) -> int:
        if kind == 1:
            self.memory[dst.value or 0][: size.value] = ctypes.string_at(src.value or 0, size.value)
        else:
            ctypes.memmove(dst.value or 0, bytes(self.memory[src.value or 0][: size.value]), size.value)
        return 0

    def cudaStreamCreate(self, stream: Any) -> int:
        stream._obj.value = 7
        return 0

    def cudaStreamSynchronize(self, stream: ctypes.c_void_p) -> int:
        return 0


def _inputs(name: str, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(0).random(shape, dtype=np.float32)


@pytest.mark.parametrize(("version", "dtype"), [("10.3.0", "BF16"), ("11.1.0", "BF16"), ("8.6.1", "HALF")])
def test_probe_feeds_the_engine_its_own_type(version: str, dtype: str) -> None:
    cudart = FakeCudart()
    step, provider = engine_runner(make_trt(version, io_dtype=dtype), b"PLAN", {"images": [1, 3, 640, 640]},
                                   _inputs, cuda=CudaRuntime(cudart))
    infer_s, total_s = step()
    assert 0 <= infer_s <= total_s and provider == "tensorrt %s" % version
    sent = bytes(cudart.memory[0x1000])
    values = _inputs("images", (1, 3, 640, 640))
    want = to_bf16_bits(values) if dtype == "BF16" else values.astype(np.float16)
    assert sent == want.tobytes() and len(cudart.memory[0x2000]) == 84 * 8400 * 2


def test_bf16_does_not_exist_before_10() -> None:
    with pytest.raises(AttributeError):
        make_trt("8.6.1", io_dtype="BF16")
