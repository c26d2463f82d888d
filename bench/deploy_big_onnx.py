"""Deploy of a big ONNX model (300 MB of float32 weights) on the built-in local device, end to end, as
``edgectl deploy model.onnx`` does it: package on the laptop, upload, verify, unpack, load and warm up,
swap, health check, commit. Against the floor measured in the same run: a copy of the same bytes plus
a bare ONNX Runtime session load of the file.

Target (issue 16): at most 1.5 times the floor. Weights do not compress, so the package stores them,
and it is sent as it is made (no package file on the laptop); each phase is printed so the figure
can be read: the wait for the model's sha256 (the upload has begun by then), the sending (hashed
as it goes), the device's verification at finish, the import (the warm-up load the device started as the bytes arrived).
The daemon is started first by an untimed deploy of a small model, as it runs while a console
is connected.

Over SSH (``--ssh``: a loopback sshd, as bench/deploy_ssh.py), ``edgectl --device robot deploy
model.onnx`` against ``scp`` of the model to the same sshd plus the bare load. Each round makes a
new model and measures the floor and the deploy one after the other; the medians are compared.

With ``--hashers``, each round deploys the model twice on the local device, once hashing the sent
bytes with the package format's ``BackgroundSha256`` (what uploads use) and once with the queue
and thread the upload code had of its own before (kept here as the baseline), in alternating
order; the medians are compared.

    python bench/deploy_big_onnx.py [--mb 300] [--rounds 5] [--ssh | --hashers]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy as np

from bench._util import verdict
from console.cli.main import main as edgectl
from console.core.env import ConsoleEnv
from tests.support.daemons import stop_daemon

WIDTH = 2048


def big_model(path: Path, mb: int, seed: int) -> Path:
    """A stack of MatMul + Relu layers whose random float32 weights add up to ``mb`` MB."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    per_layer = WIDTH * WIDTH * 4
    layers = max(1, (mb << 20) // per_layer)
    nodes, inits, x = [], [], "x"
    for i in range(layers):
        inits.append(numpy_helper.from_array(rng.standard_normal((WIDTH, WIDTH), dtype=np.float32) / WIDTH ** 0.5,
                                             "w%d" % i))
        nodes += [helper.make_node("MatMul", [x, "w%d" % i], ["m%d" % i]), helper.make_node("Relu", ["m%d" % i],
                                                                                             ["r%d" % i])]
        x = "r%d" % i
    graph = helper.make_graph(nodes, "big", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", WIDTH])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", WIDTH])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def floor_s(model: Path, dest: Path) -> tuple[float, float, float]:
    """(copy, load, both): a copy of the file and a bare ONNX Runtime session of the copy."""
    import onnxruntime as ort

    start = time.perf_counter()
    shutil.copyfile(model, dest)
    os.sync()
    copied = time.perf_counter() - start
    start = time.perf_counter()
    ort.InferenceSession(str(dest), providers=["CPUExecutionProvider"])
    loaded = time.perf_counter() - start
    dest.unlink()
    return copied, loaded, copied + loaded


def phases(steps_s: dict[str, float]) -> str:
    return ", ".join("%s %.2f" % item for item in steps_s.items() if item[1] >= 0.005) or "no steps"


class Phases:
    """Times the console's own phases of one ``edgectl deploy`` (waiting for the model's sha256,
    the sending, the device's verification at finish, the import), by wrapping them."""

    def __init__(self) -> None:
        import console.core.models.deploy as deploy
        import console.core.models.packages as packages
        import console.core.models.store_client as store_client
        import console.core.transfers.upload_stream as upload_stream

        self.marks: list[tuple[str, float, float]] = []
        self._wrap(packages.ParsedModel, "sha256", "sha256")
        self._wrap(deploy, "package_to_send", "package")
        self._wrap(upload_stream, "send", "send")
        self._wrap(upload_stream, "finish", "finish")
        self._wrap(store_client.StoreClient, "run", "import")

    def _wrap(self, owner: object, attr: str, label: str) -> None:
        original = getattr(owner, attr)

        def timed(*args: object, **kwargs: object) -> object:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.marks.append((label, start, time.perf_counter()))

        setattr(owner, attr, timed)

    def text(self) -> str:
        return ", ".join("%s %.2f" % (label, end - start) for label, start, end in self.marks)


def deploy_once(env: ConsoleEnv, argv: list[str], timing: Phases) -> tuple[float, dict[str, object]]:
    """One ``edgectl deploy`` as a user runs it (in this process, as bench/edgectl_status_cost
    shows the start costs apart): its wall time and the final action."""
    out = io.StringIO()
    env.stdout, env.stderr = out, out
    timing.marks.clear()
    start = time.perf_counter()
    code = edgectl([*argv, "--json"], env)
    elapsed = time.perf_counter() - start
    assert code == 0, out.getvalue()
    return elapsed, json.loads(out.getvalue().splitlines()[-1])


def report(where: str, size_mb: float, lines: list[str], deploys: list[float], floors: list[float]) -> None:
    ratios = [d / f for d, f in zip(deploys, floors, strict=True)]
    ratio = statistics.median(deploys) / statistics.median(floors)
    print("model %.1f MB of float32 weights, %s, %d CPU cores, %d rounds" % (size_mb, where, os.cpu_count() or 0,
                                                                           len(deploys)))
    print("\n".join(lines))
    print("floor (copy + ONNX Runtime load)  median %.2f s (best %.2f)" % (statistics.median(floors), min(floors)))
    print("edgectl deploy model.onnx         median %.2f s (best %.2f)" % (statistics.median(deploys), min(deploys)))
    print("deploy / floor                    %.2fx of the medians, per round %s (median %.2fx)  [target <= 1.5: %s]"
          % (ratio, " ".join("%.2f" % r for r in ratios), statistics.median(ratios), verdict(ratio <= 1.5)))


def over_ssh(mb: int, rounds: int) -> int:
    from bench.ssh_link import loopback_device, openssh_args, timed
    from console.core.devices.keys import KeyStore
    from tests.support.ssh import RUNTIME

    lines: list[str] = []
    timing = Phases()
    with tempfile.TemporaryDirectory(prefix="eoc-bench-") as raw:
        tmp = Path(raw)
        server, env, _entry, key, user = loopback_device(tmp)
        try:
            out = io.StringIO()
            env.stdout, env.stderr = out, out
            assert edgectl(["devices", "add", "robot", "--host", "127.0.0.1", "--port", str(server.port), "--user",
                            user, "--key", str(key), "--runtime", RUNTIME], env) == 0, out.getvalue()
            keys = KeyStore(env.config_dir / "keys")  # a robot takes signed packages only
            keys.new("bench")
            assert edgectl(["--device", "robot", "keys", "trust", keys.export("bench")], env) == 0, out.getvalue()
            dest = tmp / "scp-dest"
            dest.mkdir()
            scp = ["scp", *openssh_args(tmp, key, env.known_hosts_path), "-P", str(server.port)]
            floors, deploys = [], []
            for i in range(rounds):
                model = big_model(tmp / ("big%d.onnx" % i), mb, i)
                size_mb = model.stat().st_size / 1e6
                copied = timed([*scp, str(model), "%s@127.0.0.1:%s/" % (user, dest)])
                _copy, loaded, _both = floor_s(dest / model.name, tmp / "copy.onnx")
                floors.append(copied + loaded)
                elapsed, action = deploy_once(env, ["--device", "robot", "deploy", str(model), "--name", "big",
                                                    "--version", "1.0.%d" % i, "--key", "bench"], timing)
                deploys.append(elapsed)
                lines.append("round %d: deploy %.2f s (%s; on the device: %s)  floor %.2f s = scp %.2f + load %.2f"
                             % (i + 1, elapsed, timing.text(), phases(action.get("steps_s", {})),  # type: ignore
                                floors[-1], copied, loaded))
                lines.extend("    %s" % n for n in action.get("notes", []) if n.startswith("loaded"))  # type: ignore
                model.unlink()
        finally:
            stop_daemon(server.remote_socket)
            server.stop()
    report("loopback sshd", size_mb, lines, deploys, floors)
    return 0


class QueueHasher:
    """The baseline: the upload's own sha256 thread before it used BackgroundSha256 (every block,
    however small, handed to the thread)."""

    def __init__(self) -> None:
        import hashlib
        import queue
        import threading

        self._digest = hashlib.sha256()
        self._queue: queue.Queue[bytes | None] = queue.Queue(16)
        self._thread = threading.Thread(target=self._run, name="upload-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            block = self._queue.get()
            if block is None:
                return
            self._digest.update(block)

    def update(self, block: bytes) -> None:
        self._queue.put(block)

    def hexdigest(self) -> str:
        self._queue.put(None)
        self._thread.join()
        return self._digest.hexdigest()

    def close(self) -> None:
        self._queue.put(None)


def hashers(mb: int, rounds: int) -> int:
    import console.core.transfers.upload_stream as upload_stream

    shared = upload_stream.BackgroundSha256
    timing = Phases()
    times: dict[str, list[float]] = {"BackgroundSha256": [], "baseline queue hasher": []}
    with tempfile.TemporaryDirectory(prefix="eoc-bench-") as raw:
        tmp = Path(raw)
        env = ConsoleEnv(config_dir=tmp / "cfg", data_dir=tmp / "data", runtime_dir=tmp / "run",
                         environ={"HOME": str(tmp)})
        try:
            warm = big_model(tmp / "warm.onnx", 4, rounds)  # the first deploy starts the daemon: not timed
            deploy_once(env, ["deploy", str(warm), "--name", "warm", "--version", "1.0.0"], timing)
            version = 0
            for i in range(rounds):
                model = big_model(tmp / ("big%d.onnx" % i), mb, i)
                order = list(times) if i % 2 == 0 else list(reversed(times))
                for label in order:
                    upload_stream.BackgroundSha256 = shared if label == "BackgroundSha256" else QueueHasher  # type: ignore[misc]
                    elapsed, _action = deploy_once(env, ["deploy", str(model), "--name", "big", "--version",
                                                         "1.0.%d" % version], timing)
                    version += 1
                    times[label].append(elapsed)
                    print("round %d: %-22s deploy %.2f s (%s)" % (i + 1, label, elapsed, timing.text()))
                model.unlink()
        finally:
            upload_stream.BackgroundSha256 = shared  # type: ignore[misc]
            stop_daemon(env.local_socket)
    new, old = (statistics.median(v) for v in times.values())
    print("model %d MB, built-in local device, %d rounds, %d CPU cores" % (mb, rounds, os.cpu_count() or 0))
    print("BackgroundSha256 median %.2f s, baseline queue hasher median %.2f s: ratio %.3f  [target <= 1.05: %s]"
          % (new, old, new / old, verdict(new / old <= 1.05)))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ssh", action="store_true", help="to a loopback sshd instead of the built-in local device")
    parser.add_argument("--hashers", action="store_true",
                        help="compare the upload's sha256 thread with the baseline queue hasher")
    args = parser.parse_args()
    if args.hashers:
        return hashers(args.mb, args.rounds)
    if args.ssh:
        return over_ssh(args.mb, args.rounds)
    lines: list[str] = []
    timing = Phases()
    with tempfile.TemporaryDirectory(prefix="eoc-bench-") as raw:
        tmp = Path(raw)
        env = ConsoleEnv(config_dir=tmp / "cfg", data_dir=tmp / "data", runtime_dir=tmp / "run",
                         environ={"HOME": str(tmp)})
        try:
            warm = big_model(tmp / "warm.onnx", 4, args.rounds)  # starts the daemon, as a connected console has it
            deploy_once(env, ["deploy", str(warm), "--name", "warm", "--version", "1.0.0"], timing)
            floors, deploys = [], []
            for i in range(args.rounds):
                model = big_model(tmp / ("big%d.onnx" % i), args.mb, i)
                size_mb = model.stat().st_size / 1e6
                copied, loaded, both = floor_s(model, tmp / "copy.onnx")
                floors.append(both)
                elapsed, action = deploy_once(env, ["deploy", str(model), "--name", "big", "--version", "1.0.%d" % i],
                                              timing)
                deploys.append(elapsed)
                os.sync()
                lines.append("round %d: deploy %.2f s (%s; on the device: %s)  floor %.2f s = copy %.2f + load %.2f"
                             % (i + 1, elapsed, timing.text(), phases(action.get("steps_s", {})),  # type: ignore
                                both, copied, loaded))
                lines.extend("    %s" % n for n in action.get("notes", []) if n.startswith("loaded"))  # type: ignore
                model.unlink()
        finally:
            stop_daemon(env.local_socket)
    report("built-in local device", size_mb, lines, deploys, floors)
    return 0


if __name__ == "__main__":
    sys.exit(main())
