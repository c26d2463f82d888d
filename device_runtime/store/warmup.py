"""Load a stored version with its backend and run one warm-up inference, in a child process.

``python -m device_runtime.store.warmup <version dir>`` prints one JSON line: ``{"ok": true,
"provider": ..., "load_s": ..., "infer_ms": ...}`` or ``{"ok": false, "error": ...}``. The
daemon never imports onnxruntime or tensorrt itself: they stay out of its memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

from device_runtime.engines.ort_session import TENSORRT, device_providers, open_session
from device_runtime.heap import reserve_heap
from device_runtime.package_format.errors import Code, StoreError
from device_runtime.package_format.manifest import MANIFEST_FILE, Manifest, parse_manifest_bytes
from device_runtime.package_format.tensors import is_fixed
from device_runtime.process import hang_up, python_command

_NUMPY_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
                "tensor(int8)": "int8", "tensor(uint8)": "uint8", "tensor(int32)": "int32",
                "tensor(int64)": "int64", "tensor(bool)": "bool", "tensor(int16)": "int16",
                "tensor(uint16)": "uint16", "tensor(uint32)": "uint32", "tensor(uint64)": "uint64"}


def _describe(name: str, array: Any, from_sample: bool) -> str:
    """``sr int64[] = 0``: what one input got, for a warm-up failure's message."""
    head = "%s %s[%s]" % (name, array.dtype, "x".join(str(d) for d in array.shape))
    if array.size <= 8:
        return "%s = %s" % (head, array.reshape(-1).tolist() if array.ndim else array.item())
    if from_sample:
        return "%s from the sample" % head
    return "%s all %s" % (head, array.reshape(-1)[0].item()) if array.size else "%s empty" % head


def _declared_lows(path: str) -> Dict[str, int]:
    """The least value the model itself declares each integer input takes (a scalar count or size is at
    least 1, an index into a constant table at least 0): fed instead of zeros where no sample gives one,
    so the warm-up stays deterministic (never random) and a ``Range`` step or a count is not fed 0."""
    from device_runtime.jobs.kinds.onnx_io import integer_ranges

    return {name: low for name, (low, _high) in integer_ranges(path).items()}


def _needs_lows(session_inputs: List[Any]) -> bool:
    """Only an int32 / int64 input can have a declared range (a count, an index into a table): only then
    is the model read again for them, a parse of the whole file that takes seconds for a big model."""
    return any(item.type in ("tensor(int32)", "tensor(int64)") for item in session_inputs)


def _feeds(manifest: Manifest, version_dir: str, session_inputs: List[Any],
           lows: Dict[str, int]) -> Dict[str, Any]:
    import numpy as np

    sample: Dict[str, Any] = {}
    warmup = manifest.warmup
    if warmup is not None and warmup.sample:
        with np.load(os.path.join(version_dir, warmup.sample), allow_pickle=False) as data:
            sample = {name: data[name] for name in data.files}
    # no warmup section: a version stored before warm-up inputs were recorded, warmed up as it was then
    shapes = dict(warmup.shapes) if warmup is not None else {
        t.name: [d if is_fixed(d) and d > 0 else 1 for d in t.shape] for t in manifest.inputs}
    feeds = {}
    for item in session_inputs:
        if item.name in sample:
            feeds[item.name] = sample[item.name]
            continue
        dtype = _NUMPY_TYPES.get(item.type)
        if dtype is None:
            raise RuntimeError("input %s has type %s, which the warm-up cannot feed" % (item.name, item.type))
        shape = shapes.get(item.name)
        if shape is None:
            shape = [d if isinstance(d, int) and d >= 0 else 1 for d in item.shape]
        feeds[item.name] = np.full(shape, lows.get(item.name, 0), dtype=dtype)
    return feeds


def _warm_onnx(path: str, manifest: Manifest, version_dir: str) -> Dict[str, Any]:
    # The device's accelerator as the latency probe picks it: CUDA before the CPU, and not TensorRT's
    # provider, whose engine build at load would hold the activation for minutes (a TensorRT version
    # is an .engine of its own, warmed up by _warm_engine).
    # The session runs once and is dropped: its weights are not re-laid out for repeated runs.
    providers = device_providers(skip=(TENSORRT,))
    start = time.perf_counter()
    session = open_session(path, providers, prepacking=False)
    load_s = time.perf_counter() - start
    inputs = session.get_inputs()
    feeds = _feeds(manifest, version_dir, inputs, _declared_lows(path) if _needs_lows(inputs) else {})
    from_sample = bool(manifest.warmup and manifest.warmup.sample)
    start = time.perf_counter()
    try:
        session.run(None, feeds)
    except Exception as exc:
        fed = "; ".join(_describe(name, array, from_sample) for name, array in feeds.items())
        raise RuntimeError("the warm-up inference failed: %s. It fed %s. Give a real input with --sample FILE.npz "
                           "(or sizes the model accepts with --shape NAME:DxD)" % (str(exc)[:300], fed)) from None
    return {"ok": True, "provider": session.get_providers()[0], "load_s": load_s,
            "infer_ms": (time.perf_counter() - start) * 1000}


def _warm_engine(path: str) -> Dict[str, Any]:
    try:
        import tensorrt as trt
    except ImportError:
        raise RuntimeError("TensorRT is not installed on this device, so the engine cannot be loaded") from None
    from device_runtime.engines.trt_adapter import load_engine

    start = time.perf_counter()
    with open(path, "rb") as handle:
        engine = load_engine(trt, handle.read())
    if engine is None or engine.create_execution_context() is None:
        raise RuntimeError("TensorRT could not deserialize the engine")
    return {"ok": True, "provider": "tensorrt %s" % trt.__version__, "load_s": time.perf_counter() - start,
            "infer_ms": 0.0}


def warm(version_dir: str, manifest: Optional[Manifest] = None) -> Dict[str, Any]:
    """Load the version's entry file and run it once; ``manifest`` when it is not on disk yet."""
    if manifest is None:
        with open(os.path.join(version_dir, MANIFEST_FILE), "rb") as handle:
            manifest = parse_manifest_bytes(handle.read())
    path = os.path.join(version_dir, manifest.entry)
    if manifest.backend == "tensorrt":
        return _warm_engine(path)
    return _warm_onnx(path, manifest, version_dir)


def run_warmup(version_dir: str, timeout_s: float = 600.0) -> Dict[str, Any]:
    """Run :func:`warm` in a fresh interpreter; raises StoreError(LOAD_FAILED) with its words."""
    try:
        proc = subprocess.run([*python_command(), "-m", "device_runtime.store.warmup", version_dir],
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise StoreError(Code.LOAD_FAILED, "loading the model took longer than %.0f s" % timeout_s) from None
    lines = proc.stdout.decode("utf-8", "replace").strip().splitlines()
    try:
        result: Dict[str, Any] = json.loads(lines[-1]) if lines else {}
    except ValueError:
        result = {}
    if not result.get("ok"):
        why = result.get("error") or proc.stderr.decode("utf-8", "replace").strip()[-300:] or (
            "the loader exited with status %d" % proc.returncode)
        raise StoreError(Code.LOAD_FAILED, "the model does not load: %s" % why)
    return result


class Loader:
    """A warm-up loader started ahead of its model: ``python -m device_runtime.store.warmup --wait
    [--reserve BYTES]`` imports the backend at once and readies ``BYTES`` of heap for the load
    (:func:`device_runtime.heap.reserve_heap`: the load's pages are faulted in while the model
    still arrives), then waits for one line on stdin naming the version folder and its manifest,
    loads and warms it up, and prints the result line.

    The store's receiving child starts one as an upload begins, so the backend's import (a few
    tenths of a second of a core, holding the interpreter) runs in another process while the
    bytes are unpacked, and the model's load starts the moment its files have matched. A crash
    of the backend on a bad model ends the loader, not the receiving child. The loader dies with
    the process that started it (Linux's parent-death signal)."""

    def __init__(self, reserve: int = 0) -> None:
        # Its stderr goes to a file, not a pipe: nothing it says can block it while its result is awaited.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close(), which receive() always calls)
        self.proc = subprocess.Popen([*python_command(), "-m", "device_runtime.store.warmup", "--wait",
                                      "--reserve", str(max(0, reserve))],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr)

    def warm(self, version_dir: str, manifest: Manifest) -> Dict[str, Any]:
        """Load and warm up the staged version: ``{"warm": result}`` or ``{"warm_error": words}``.
        The result is its line: the loader's own exit (dropping a loaded model) is not waited for."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        order = json.dumps({"dir": version_dir, "manifest": manifest.canonical_bytes().decode("utf-8")})
        try:
            self.proc.stdin.write((order + "\n").encode("utf-8"))
            self.proc.stdin.close()
        except (OSError, ValueError) as exc:  # it is gone already
            self._reap()
            return {"warm_error": "the loader stopped before it was given the model: %s" % (self._said()[-300:] or exc)}
        line = self.proc.stdout.readline()
        try:
            result = json.loads(line.decode("utf-8", "replace")) if line.strip() else {}
        except ValueError:
            result = {}
        if isinstance(result, dict) and result.get("ok"):
            return {"warm": result}
        self._reap()
        why = result.get("error") if isinstance(result, dict) else None
        return {"warm_error": why or self._said()[-300:] or "the loader exited with status %d" % self.proc.returncode}

    def _said(self) -> str:
        try:
            self._stderr.seek(0)
            return self._stderr.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    def close(self) -> None:
        """Reap the loader: one given a model exits once it has said how it went, one that was not
        exits at the end of its input."""
        self._reap()
        self._stderr.close()

    def _reap(self) -> None:
        hang_up(self.proc, 5, self.proc.stdin, self.proc.stdout)


def _die_with_parent() -> None:
    try:
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the end of stdin still ends it
        return


def _import_backend() -> None:
    try:
        import numpy  # noqa: F401
        import onnxruntime  # noqa: F401
    except Exception:  # the load itself reports a backend that cannot be imported
        return


def _wait_for_order(reserve: int) -> Dict[str, Any]:
    _die_with_parent()
    _import_backend()  # while the model is still arriving
    reserve_heap(reserve)  # on this thread: the load's blocks come from the heap (arena) it readies
    line = sys.stdin.readline()
    if not line.strip():
        return {}
    order = json.loads(line)
    return warm(str(order["dir"]), parse_manifest_bytes(str(order["manifest"]).encode("utf-8")))


def main(argv: List[str]) -> int:
    try:
        if argv[:1] == ["--wait"]:
            result = _wait_for_order(int(argv[2]) if argv[1:2] == ["--reserve"] else 0)
        else:
            result = warm(argv[0])
    except Exception as exc:
        result = {"ok": False, "error": "%s: %s" % (type(exc).__name__, str(exc)[:1500])}
    if result:
        sys.stdout.write(json.dumps(result) + "\n")
    code = 0 if result.get("ok") or not result else 1
    if argv[:1] == ["--wait"]:  # said all it had to: no need to tear down a loaded model
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
