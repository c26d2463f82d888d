"""``python -m device_runtime.latency.probe_worker``: the latency probe's child process.

The daemon never imports onnxruntime, numpy or tensorrt; this process does. Its first stdin
line is the request (JSON: model file, backend, input dtypes and shapes, rate, paused); later
lines are commands: ``{"rate": hz}`` and ``{"pause": true|false}``. End of stdin (the daemon
closed the pipe or died) ends it. It answers on stdout, a line at a time:
``{"ready": {"provider": ..., "load_s": ..., "stages": [...]}}`` (JSON) once the model answered
a first inference, then a line of readings about once a second, or ``{"error": "..."}`` (JSON)
before it exits. A line of readings is plain numbers, ``R offset end s1 .. sN end s1 .. sN ...``:
each inference's end on the monotonic clock, then its time in each of the stages ``ready``
named, and first the offset that turns the monotonic clock into wall-clock time. Numbers in a
line, not JSON, because the daemon takes them in every second: parsing them is a split and a
``map(float)``. ONNX Runtime has one stage, ``total``: its outputs come back in host memory, so
the model's time and the end-to-end time are the same figure and it is sent once. A TensorRT
engine has two, ``infer`` (enqueue to synchronise) and ``total`` (with the copies).

ONNX Runtime runs with one thread and no spin-waiting: at 1 to 30 Hz a spinning thread pool
would burn a core between calls (after each run its threads spin before they sleep, CPU that
is neither inference nor idle), and the probe must not take cores from the robot's process.
With one thread the inference runs in this process's main thread, so the time it measures
around ``session.run`` is the inference and nothing else.
"""

from __future__ import annotations

import json
import os
import select
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from device_runtime.engines.ort_session import TENSORRT, device_providers, open_session

Step = Callable[[], Tuple[float, ...]]  # one value per stage of the runner, in seconds
ONNX_STAGES: Tuple[str, ...] = ("total",)
ENGINE_STAGES: Tuple[str, ...] = ("infer", "total")
# Readings go out in batches of a second's worth (the rate's count of inferences, so batches keep
# in step with the daemon's once-a-second publish), or after FLUSH_MAX_S when inferences run
# slower than the rate. One line a second instead of one per inference keeps the probe's cost
# near its inference time.
FLUSH_S = 1.0
FLUSH_MAX_S = 2.0


class ProbeWorkerError(RuntimeError):
    pass


def make_input(dtype: str, shape: Tuple[int, ...], seed: int = 0) -> Any:
    """Image-like random data for floats, small ids for integers (as the benchmark job feeds)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return np.asarray(rng.random(shape) < 0.5)  # an array even for a scalar: ONNX Runtime takes no np.bool_
    if dtype.startswith(("int", "uint")):
        return rng.integers(0, 10, size=shape).astype(dtype)
    return rng.random(shape, dtype="float32").astype(dtype)


def _feeds(inputs: List[Dict[str, Any]], sample: Optional[str]) -> Dict[str, Any]:
    """Each input's probe data: the package's sample array where it has the probed shape, else made up."""
    import numpy as np

    arrays: Dict[str, Any] = {}
    if sample:
        with np.load(sample, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    feeds = {}
    for spec in inputs:
        array = arrays.get(spec["name"])
        shape = tuple(spec["shape"])
        fits = array is not None and tuple(array.shape) == shape and str(array.dtype) == spec["dtype"]
        feeds[spec["name"]] = array if fits else make_input(spec["dtype"], shape)
    return feeds


def onnx_runner(path: str, inputs: List[Dict[str, Any]], sample: Optional[str] = None) -> Tuple[Step, str]:
    # ONNX Runtime's telemetry uploader is switched off for every child by the daemon (cli serve).
    # Not TensorRT's provider: it would build an engine at every start of the probe (minutes on a
    # Jetson); a TensorRT engine is probed as the engine itself.
    providers = device_providers(skip=(TENSORRT,))
    try:
        session = open_session(path, providers, threads=1, spinning=False)
    except Exception as exc:
        raise ProbeWorkerError("ONNX Runtime could not load the model: %s" % str(exc).strip()[:400]) from None
    declared = {item.name for item in session.get_inputs()}
    given = {spec["name"] for spec in inputs}
    if declared != given:
        raise ProbeWorkerError("the model's inputs (%s) differ from its manifest's (%s): rebuild the package"
                               % (", ".join(sorted(declared)), ", ".join(sorted(given))))
    feeds = _feeds(inputs, sample)
    run = session.run

    def step() -> Tuple[float, ...]:
        t0 = time.perf_counter()
        run(None, feeds)
        return (time.perf_counter() - t0,)  # outputs come back in host memory: end to end is the run

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


class Commands:
    """The daemon's commands on stdin (rate, pause), applied as they come."""

    def __init__(self, fd: int, rate_hz: float, paused: bool) -> None:
        self.fd = fd
        self.rate_hz = rate_hz
        self.paused = paused
        self._buf = b""

    @property
    def idle(self) -> bool:
        return self.paused or self.rate_hz <= 0

    def read(self) -> bool:
        """Read what stdin holds and apply it; False once stdin ended."""
        data = os.read(self.fd, 4096)
        if not data:
            return False
        self._buf += data
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            self.apply(json.loads(line))
        return True

    def apply(self, command: Dict[str, Any]) -> None:
        if "rate" in command:
            self.rate_hz = float(command["rate"])
        if "pause" in command:
            self.paused = bool(command["pause"])


class Batch:
    """Readings kept flat (end, then each stage, per inference) on the monotonic clock and sent
    as one line of numbers about once a second: one clock read per inference, one write a second."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.values: List[float] = []

    def flush(self) -> None:
        values = self.values
        if values:
            offset = time.time() - self.clock()  # monotonic to wall clock, fresh for every batch
            sys.stdout.write("R %r %s\n" % (offset, " ".join(map(repr, values))))
            sys.stdout.flush()
            values.clear()


def serve(fd: int, step: Step, commands: Commands, clock: Callable[[], float] = time.perf_counter,
          width: int = 2) -> None:
    """Run ``step`` at the commanded rate until stdin ends; ``width`` is the values a reading
    takes (its end and one per stage).

    The loop is what the probe costs beyond its inferences, so it does the least per
    inference: one wait, the step, one clock read, an append and an extend. The schedule keeps
    to the rate's grid (never a burst to catch up); a pause sends what was measured before it.
    """
    batch = Batch(clock)
    append = batch.values.append
    extend = batch.values.extend
    select_ = select.select
    watched = [fd]
    now = next_at = clock()
    flush_at = now  # the first reading goes out at once: the daemon learns the probe runs
    per_batch = width  # one inference; a second's worth once the first reading went out
    while True:
        if commands.idle:
            batch.flush()
            if not commands.read():  # blocks until a command comes
                return
            now = next_at = clock()
            continue
        if next_at > now and select_(watched, [], [], next_at - now)[0]:
            if not commands.read():
                break
            now = clock()
            continue
        stages = step()
        now = clock()
        append(now)
        extend(stages)
        period = 1.0 / commands.rate_hz
        next_at += period
        if next_at < now:
            next_at = now + period
        if len(batch.values) >= per_batch or now >= flush_at:
            batch.flush()
            flush_at = now + FLUSH_MAX_S
            per_batch = width * max(1, round(commands.rate_hz * FLUSH_S))
    batch.flush()


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
            stages = ENGINE_STAGES
        else:
            step, provider = onnx_runner(request["path"], request["inputs"], request.get("sample"))
            stages = ONNX_STAGES
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
    _emit({"ready": {"provider": provider, "load_s": load_s, "stages": list(stages)}})
    commands = Commands(fd, float(request.get("rate_hz", 0.0)), bool(request.get("paused")))
    serve(fd, step, commands, width=1 + len(stages))
    return 0


if __name__ == "__main__":
    sys.exit(main())
