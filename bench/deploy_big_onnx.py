"""Deploy of a big ONNX model (300 MB of float32 weights) on the built-in local device, end to end, as
``edgectl deploy model.onnx`` does it: package on the laptop, upload, verify, unpack, load and warm up,
swap, health check, commit. Against the floor measured in the same run: a copy of the same bytes plus
a bare ONNX Runtime session load of the file.

Target (issue 16): at most 1.5 times the floor. Weights do not compress, so the package stores them;
each phase is printed so the figure can be read.

Over SSH (``--ssh``: a loopback sshd, as bench/deploy_ssh.py), the same steps the console takes for an
ONNX model (package, upload over the SSH login, the rest on the device) against ``scp`` of the model to
the same sshd plus the bare load.

    python bench/deploy_big_onnx.py [--mb 300] [--rounds 3] [--ssh]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy as np

from bench._util import verdict
from console.cli.main import main as edgectl
from console.core.env import ConsoleEnv
from console.core.packages import build_package
from tests.conftest import stop_daemon

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
    return ", ".join("%s %.2f" % item for item in steps_s.items()) or "no steps"


def over_ssh(mb: int, rounds: int) -> int:
    from bench.ssh_link import loopback_device, openssh_args, timed
    from console.core.keys import KeyStore
    from console.core.session import DeviceSession, make_transport
    from console.core.store_client import StoreClient
    from device_runtime.protocol import StoreImport, StoreKey

    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="eoc-bench-") as raw:
        tmp = Path(raw)
        server, env, entry, key, user = loopback_device(tmp)
        session = DeviceSession(entry, make_transport(entry, env), time.time)
        try:
            models = [big_model(tmp / ("big%d.onnx" % i), mb, i) for i in range(rounds)]
            size_mb = models[0].stat().st_size / 1e6
            dest = tmp / "scp-dest"
            dest.mkdir()
            scp = ["scp", *openssh_args(tmp, key, env.known_hosts_path), "-P", str(server.port)]
            floors, parts = [], []
            for model in models:
                copied = timed([*scp, str(model), "%s@127.0.0.1:%s/" % (user, dest)])
                _copy, loaded, _both = floor_s(dest / model.name, tmp / "copy.onnx")
                floors.append(copied + loaded)
                parts.append((copied, loaded))
            keys = KeyStore(env.config_dir / "keys")
            keys.new("bench")
            signer = keys.private_key("bench")
            session.connect()
            session.request("store.keys.trust", StoreKey(keys.export("bench"), "bench"))
            client = StoreClient(session, "bench")
            deploys = []
            for i, model in enumerate(models):
                start = time.perf_counter()
                package = tmp / ("big-1.0.%d.tar.gz" % i)
                build_package(model, package, "big", "1.0.%d" % i, "bench", key=signer, shapes={"x": [1, WIDTH]})
                built = time.perf_counter() - start
                remote = client.upload(package)
                uploaded = time.perf_counter() - start - built
                action = client.run("store.import", StoreImport(remote, True, "bench"))
                deploys.append(time.perf_counter() - start)
                assert action.result == "committed", action.message
                package.unlink()
                lines.append("deploy %d   %.2f s (package build %.2f s, upload %.2f s, import %.2f s: %s)  floor %.2f s"
                             % (i + 1, deploys[-1], built, uploaded, deploys[-1] - built - uploaded,
                                phases(action.steps_s), floors[i]) + " = scp %.2f + load %.2f" % parts[i])
                lines.extend("    %s" % note for note in action.notes if note.startswith("loaded"))
        finally:
            session.close()
            stop_daemon(server.remote_socket)
            server.stop()
    best, floor = min(deploys), min(floors)
    print("model %.1f MB of float32 weights, loopback sshd, %d CPU cores" % (size_mb, os.cpu_count() or 0))
    print("\n".join(lines))
    print("floor (scp + ONNX Runtime load)   %.2f s (best of %d)" % (floor, len(floors)))
    print("deploy of the ONNX over SSH       %.2f s (best of %d)" % (best, len(deploys)))
    print("deploy / floor                    %.2fx  [target <= 1.5: %s]" % (best / floor, verdict(best / floor <= 1.5)))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ssh", action="store_true", help="to a loopback sshd instead of the built-in local device")
    args = parser.parse_args()
    if args.ssh:
        return over_ssh(args.mb, args.rounds)
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="eoc-bench-") as raw:
        tmp = Path(raw)
        env = ConsoleEnv(config_dir=tmp / "cfg", data_dir=tmp / "data", runtime_dir=tmp / "run",
                         environ={"HOME": str(tmp)})
        try:
            models = [big_model(tmp / ("big%d.onnx" % i), args.mb, i) for i in range(args.rounds)]
            size_mb = models[0].stat().st_size / 1e6
            floors = [floor_s(m, tmp / "copy.onnx") for m in models]
            builds, deploys = [], []
            for i, model in enumerate(models):
                start = time.perf_counter()
                build_package(model, tmp / "only-build.tar.gz", "big", "9.9.%d" % i, "bench",
                              shapes={"x": [1, WIDTH]})
                builds.append(time.perf_counter() - start)
                (tmp / "only-build.tar.gz").unlink()
                out = io.StringIO()
                env.stdout, env.stderr = out, out
                start = time.perf_counter()
                code = edgectl(["deploy", str(model), "--name", "big", "--version", "1.0.%d" % i, "--json"], env)
                deploys.append(time.perf_counter() - start)
                assert code == 0, out.getvalue()
                steps = json.loads(out.getvalue().splitlines()[-1]).get("steps_s", {})
                os.sync()
                lines.append("deploy %d   %.2f s (its package build alone: %.2f s; on the device: %s)  floor %.2f s = "
                             "copy %.2f + load %.2f" % (i + 1, deploys[-1], builds[-1], phases(steps), floors[i][2],
                                                       floors[i][0], floors[i][1]))
                lines.extend("    %s" % note for note in json.loads(out.getvalue().splitlines()[-1]).get("notes", [])
                             if note.startswith("loaded"))
        finally:
            stop_daemon(env.local_socket)
    best, floor = min(deploys), min(f[2] for f in floors)
    ratio = best / floor
    print("model %.1f MB of float32 weights, built-in local device, %d CPU cores" % (size_mb, os.cpu_count() or 0))
    print("\n".join(lines))
    print("floor (copy + ONNX Runtime load)  %.2f s (best of %d)" % (floor, len(floors)))
    print("edgectl deploy model.onnx         %.2f s (best of %d)" % (best, len(deploys)))
    print("deploy / floor                    %.2fx  [target <= 1.5: %s]" % (ratio, verdict(ratio <= 1.5)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
