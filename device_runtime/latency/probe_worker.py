"""``python -m device_runtime.latency.probe_worker``: the latency probe's child process.

The daemon never imports onnxruntime, numpy or tensorrt; this process does. Its first stdin
line is the request (JSON: model file, backend, input dtypes and shapes, rate, paused); later
lines are commands: ``{"rate": hz}`` and ``{"pause": true|false}``. End of stdin (the daemon
closed the pipe or died) ends it. It answers on stdout, one JSON object a line:
``{"ready": {...}}`` once the model answered a first inference, then ``{"r": [[t, infer_s,
total_s], ...]}`` with the readings of the last second, or ``{"error": "..."}`` before it
exits.

ONNX Runtime runs with one thread and no spin-waiting: at 1 to 30 Hz a spinning thread pool
would burn a core between calls, and the probe must not take cores from the robot's process.
"""

from __future__ import annotations

import json
import os
import select
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

Step = Callable[[], Tuple[float, float]]
# Readings go out in batches: the daemon publishes windows once a second anyway, and one wake-up
# of the daemon per batch instead of per inference keeps the probe's own cost near its inference time.
FLUSH_S = 1.0


class ProbeWorkerError(RuntimeError):
    pass


def make_input(dtype: str, shape: Tuple[int, ...], seed: int = 0) -> Any:
    """Image-like random data for floats, small ids for integers (as the benchmark job feeds)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith(("int", "uint")):
        return rng.integers(0, 10, size=shape).astype(dtype)
    return rng.random(shape, dtype="float32").astype(dtype)


def onnx_runner(path: str, inputs: List[Dict[str, Any]]) -> Tuple[Step, str]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3
    available = ort.get_available_providers()
    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    try:
        session = ort.InferenceSession(path, sess_options=options, providers=providers)
    except Exception as exc:
        raise ProbeWorkerError("ONNX Runtime could not load the model: %s" % str(exc).strip()[:400]) from None
    declared = {item.name for item in session.get_inputs()}
    given = {spec["name"] for spec in inputs}
    if declared != given:
        raise ProbeWorkerError("the model's inputs (%s) differ from its manifest's (%s): rebuild the package"
                               % (", ".join(sorted(declared)), ", ".join(sorted(given))))
    feeds = {spec["name"]: make_input(spec["dtype"], tuple(spec["shape"])) for spec in inputs}
    run = session.run

    def step() -> Tuple[float, float]:
        t0 = time.perf_counter()
        run(None, feeds)
        spent = time.perf_counter() - t0
        return spent, spent  # outputs come back in host memory: end to end is the run

    return step, session.get_providers()[0]


def engine_runner(path: str, inputs: List[Dict[str, Any]], version_compatible: bool) -> Tuple[Step, str]:
    try:
        import tensorrt as trt
    except ImportError:
        raise ProbeWorkerError("TensorRT is not installed on this device, so the engine cannot run") from None
    from device_runtime.latency.probe_trt import engine_runner as trt_runner

    with open(path, "rb") as handle:
        plan = handle.read()
    dtypes = {spec["name"]: spec["dtype"] for spec in inputs}
    shapes = {spec["name"]: spec["shape"] for spec in inputs}
    return trt_runner(trt, plan, shapes, lambda name, shape: make_input(dtypes.get(name, "float32"), shape),
                      version_compatible=version_compatible)


def _emit(data: Dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, separators=(",", ":")) + "\n")
    sys.stdout.flush()


class Pacer:
    """Reads commands and decides when the next inference is due (no I/O of its own beyond stdin)."""

    def __init__(self, rate_hz: float, paused: bool, on_pause: Callable[[], None] = lambda: None) -> None:
        self.rate_hz = rate_hz
        self.paused = paused
        self.on_pause = on_pause
        self.next_at = time.monotonic()
        self._buf = b""

    def wait(self, fd: int) -> bool:
        """Block until an inference is due (True) or stdin ended (False), applying commands meanwhile."""
        while True:
            idle = self.paused or self.rate_hz <= 0
            timeout: Optional[float] = None if idle else max(0.0, self.next_at - time.monotonic())
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                return True
            data = os.read(fd, 4096)
            if not data:
                return False
            self._buf += data
            while b"\n" in self._buf:
                line, self._buf = self._buf.split(b"\n", 1)
                self.apply(json.loads(line))

    def apply(self, command: Dict[str, Any]) -> None:
        if "rate" in command:
            self.rate_hz = float(command["rate"])
        if "pause" in command:
            was, self.paused = self.paused, bool(command["pause"])
            if was and not self.paused:
                self.next_at = time.monotonic()
            elif self.paused and not was:
                self.on_pause()

    def done(self) -> None:
        """One inference happened: schedule the next on the rate's grid, never in a burst."""
        now = time.monotonic()
        self.next_at += 1.0 / self.rate_hz
        if self.next_at < now:
            self.next_at = now + 1.0 / self.rate_hz


def main() -> int:
    fd = sys.stdin.fileno()
    first = b""
    while not first.endswith(b"\n"):
        chunk = os.read(fd, 65536)
        if not chunk:
            return 0
        first += chunk
    request = json.loads(first)
    try:
        start = time.perf_counter()
        if request["backend"] == "tensorrt":
            step, provider = engine_runner(request["path"], request["inputs"], bool(request.get("version_compatible")))
        else:
            step, provider = onnx_runner(request["path"], request["inputs"])
        load_s = time.perf_counter() - start
        try:
            step()
        except Exception as exc:
            shapes = ", ".join("%s %s" % (s["name"], "x".join(map(str, s["shape"]))) for s in request["inputs"])
            raise ProbeWorkerError("the model refused the probe's inputs (%s): %s"
                                   % (shapes, str(exc).strip()[:400])) from None
    except Exception as exc:
        _emit({"error": str(exc) if isinstance(exc, ProbeWorkerError) else "%s: %s" % (type(exc).__name__, exc)})
        return 1
    _emit({"ready": {"provider": provider, "load_s": load_s}})
    batch: List[List[float]] = []

    def flush() -> None:
        if batch:
            _emit({"r": list(batch)})
            batch.clear()

    pacer = Pacer(float(request.get("rate_hz", 0.0)), bool(request.get("paused")), flush)
    flush_at = 0.0  # the first reading goes out at once
    while pacer.wait(fd):
        infer, total = step()
        batch.append([time.time(), infer, total])
        pacer.done()
        now = time.monotonic()
        if now >= flush_at:
            flush()
            flush_at = now + FLUSH_S
    flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
