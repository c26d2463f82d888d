"""One TensorRT engine inference at a time for the latency probe (worker side only).

The engine is loaded and bound through :mod:`device_runtime.engines.trt_adapter`; device memory
and the stream come from the CUDA runtime library through ctypes, so the probe needs nothing
beyond TensorRT itself. ``infer`` is the enqueue plus stream synchronisation; ``total`` adds the
host-to-device copy of the inputs and the copy of the outputs back. Engines need the
name-based I/O API (TensorRT 8.5 and newer). This path is written against the documented APIs
and exercised with recorded fakes here; it has not run on a real TensorRT in this project.
"""

from __future__ import annotations

import ctypes
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from device_runtime.engines.trt_adapter import enqueue, list_io_tensors, load_engine, uses_name_api

CUDART_NAMES = ("libcudart.so", "libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0", "libcudart.so.10.2")
H2D, D2H = 1, 2
# NumPy has no bfloat16: BF16 tensors live in uint16 buffers holding the bits (see ``to_bf16_bits``).
TRT_DTYPES = {"FLOAT": "float32", "HALF": "float16", "BF16": "uint16", "INT8": "int8", "UINT8": "uint8",
              "INT32": "int32", "INT64": "int64", "BOOL": "bool"}


class ProbeEngineError(RuntimeError):
    pass


class CudaRuntime:
    """The five CUDA runtime calls the probe needs, with their error codes turned into messages."""

    def __init__(self, lib: Any) -> None:
        self.lib = lib

    @classmethod
    def load(cls, names: Sequence[str] = CUDART_NAMES) -> CudaRuntime:
        for name in names:
            try:
                return cls(ctypes.CDLL(name))
            except OSError:
                continue
        raise ProbeEngineError("the CUDA runtime library (libcudart) was not found, so the engine cannot run; "
                               "install the CUDA runtime that came with TensorRT")

    def _check(self, code: int, what: str) -> None:
        if code != 0:
            raise ProbeEngineError("CUDA %s failed with error %d" % (what, code))

    def malloc(self, size: int) -> int:
        pointer = ctypes.c_void_p()
        self._check(self.lib.cudaMalloc(ctypes.byref(pointer), ctypes.c_size_t(max(1, size))), "malloc")
        return int(pointer.value or 0)

    def copy(self, dst: int, src: int, size: int, kind: int) -> None:
        self._check(self.lib.cudaMemcpy(ctypes.c_void_p(dst), ctypes.c_void_p(src), ctypes.c_size_t(size), kind),
                    "memcpy")

    def stream(self) -> int:
        handle = ctypes.c_void_p()
        self._check(self.lib.cudaStreamCreate(ctypes.byref(handle)), "stream creation")
        return int(handle.value or 0)

    def sync(self, stream: int) -> None:
        self._check(self.lib.cudaStreamSynchronize(ctypes.c_void_p(stream)), "stream synchronisation")


def _numpy_dtype(trt_dtype: str) -> str:
    name = trt_dtype.rsplit(".", 1)[-1].upper()
    dtype = TRT_DTYPES.get(name)
    if dtype is None:
        raise ProbeEngineError("the engine has a tensor of type %s, which the probe cannot feed" % trt_dtype)
    return dtype


def to_bf16_bits(values: Any) -> Any:
    """float values -> the uint16 bit patterns of bfloat16, rounded to nearest even (what TensorRT reads)."""
    import numpy as np

    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def _host_input(values: Any, trt_dtype: str) -> Any:
    if trt_dtype.rsplit(".", 1)[-1].upper() == "BF16":
        return to_bf16_bits(values)
    return values.astype(_numpy_dtype(trt_dtype))


MakeInput = Callable[[str, Tuple[int, ...]], Any]


def engine_runner(trt: Any, plan: bytes, shapes: Mapping[str, Sequence[int]], make_input: MakeInput,
                  cuda: Optional[CudaRuntime] = None,
                  version_compatible: bool = False) -> Tuple[Callable[[], Tuple[float, float]], str]:
    """A step function returning (infer_s, total_s), and a description of the provider."""
    import numpy as np

    if not uses_name_api(trt):
        raise ProbeEngineError("TensorRT %s has no name-based I/O API; the probe runs engines on TensorRT 8.5 or "
                               "newer" % trt.__version__)
    cuda = cuda or CudaRuntime.load()
    engine = load_engine(trt, plan, version_compatible=version_compatible)
    context = engine.create_execution_context()
    if context is None:
        raise ProbeEngineError("TensorRT could not create an execution context (out of GPU memory?)")
    tensors = list_io_tensors(trt, engine)
    input_shapes = {t.name: tuple(int(d) for d in shapes.get(t.name, t.shape)) for t in tensors if t.is_input}
    for name, shape in input_shapes.items():
        context.set_input_shape(name, shape)
    hosts: Dict[str, Any] = {}
    addresses: Dict[str, int] = {}
    for tensor in tensors:
        shape = input_shapes[tensor.name] if tensor.is_input else tuple(context.get_tensor_shape(tensor.name))
        if any(d < 0 for d in shape):
            raise ProbeEngineError("output %s has an undetermined shape %s" % (tensor.name, list(shape)))
        dtype = _numpy_dtype(tensor.dtype)
        hosts[tensor.name] = _host_input(make_input(tensor.name, shape), tensor.dtype) if tensor.is_input else (
            np.empty(shape, dtype=dtype))
        addresses[tensor.name] = cuda.malloc(int(hosts[tensor.name].nbytes))
    stream = cuda.stream()
    inputs: List[str] = [t.name for t in tensors if t.is_input]
    outputs: List[str] = [t.name for t in tensors if not t.is_input]

    def step() -> Tuple[float, float]:
        clock = time.perf_counter
        t0 = clock()
        for name in inputs:
            cuda.copy(addresses[name], hosts[name].ctypes.data, hosts[name].nbytes, H2D)
        t1 = clock()
        enqueue(trt, engine, context, addresses, stream, input_shapes)
        cuda.sync(stream)
        t2 = clock()
        for name in outputs:
            cuda.copy(hosts[name].ctypes.data, addresses[name], hosts[name].nbytes, D2H)
        t3 = clock()
        return t2 - t1, t3 - t0

    return step, "tensorrt %s" % trt.__version__
