"""Deploy of a big ONNX model (300 MB of float32 weights) on the built-in local device, end to end, as
``edgectl deploy model.onnx`` does it: package on the laptop, upload, verify, unpack, load and warm up,
swap, health check, commit. Against the floor measured in the same run: a copy of the same bytes plus
a bare ONNX Runtime session load of the file.

Target (issue 16): at most 1.5 times the floor. Weights do not compress, so the package stores them;
each phase is printed so the figure can be read.

    python bench/deploy_big_onnx.py [--mb 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
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
                code = edgectl(["deploy", str(model), "--name", "big", "--version", "1.0.%d" % i], env)
                deploys.append(time.perf_counter() - start)
                assert code == 0, out.getvalue()
                os.sync()
                lines.append("deploy %d   %.2f s (its package build alone: %.2f s)  floor %.2f s = copy %.2f + "
                             "load %.2f" % (i + 1, deploys[-1], builds[-1], floors[i][2], floors[i][0], floors[i][1]))
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
