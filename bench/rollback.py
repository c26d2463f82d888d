"""Rollback on the local device: from the command to the old version active and verified (no restart hook),
for a 100 MB model against a 1 MB model, measured in the same run on the same daemon.

Target (issue 5): at most 1 s for the 100 MB model, and independent of model size (the 1 MB model is the
in-run baseline; the ratio should stay near 1). Each round is a full ``store.rollback`` through the
protocol: request, worker, verify (fingerprint), trial record, fsync'd symlink swap, commit record,
history, and the final event back at the client.

    python bench/rollback.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench._util import summary_ms, verdict
from console.core.devices.session import DeviceSession
from console.core.models.packages import build_package
from console.core.models.store_client import StoreClient
from console.core.settings import DeviceEntry
from console.transport.local import LocalTransport
from device_runtime.server.bridge import start_daemon
from tests.support.store import make_onnx

SIZES_MB = (1, 100)


def _session(socket_path: Path, root: Path) -> DeviceSession:
    transport = LocalTransport(sys.executable, socket_path, root, demo=False)
    session = DeviceSession(DeviceEntry(name="bench", kind="local"), transport, time.time)
    session.connect()
    return session


def _prepare(client: StoreClient, tmp: Path, name: str, size_mb: int) -> None:
    for version, seed in (("1.0.0", 1), ("1.1.0", 2)):
        model = make_onnx(tmp / ("%s-%s.onnx" % (name, version)), seed, padding_bytes=size_mb << 20)
        package = tmp / ("%s-%s.tar.gz" % (name, version))
        build_package(model, package, name, version, "bench")
        action = client.deploy(package)
        assert action.result == "committed", action.message


def _rollbacks(client: StoreClient, name: str, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        action = client.rollback(name)
        times.append(time.perf_counter() - start)
        assert action.result == "committed", action.message
    return times


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="eoc-rb-") as scratch:
        tmp = Path(scratch)
        socket_path, root = tmp / "run" / "rt.sock", tmp / "root"
        start_daemon(str(socket_path), str(root), ["--demo"])
        session = _session(socket_path, root)
        try:
            client = StoreClient(session, "bench")
            results = {}
            for size in SIZES_MB:
                name = "model-%dmb" % size
                _prepare(client, tmp, name, size)
                client.rollback(name)  # one unmeasured round: the first rollback of a version loads nothing new
                results[size] = _rollbacks(client, name, args.rounds)
        finally:
            session.close()
            subprocess.run([sys.executable, "-m", "device_runtime", "stop", "--socket", str(socket_path)],
                           capture_output=True, timeout=60, check=False)
    small, big = (statistics.median(results[s]) for s in SIZES_MB)
    print("rollback, command to old version active and verified (local device, no restart hook)")
    for size in SIZES_MB:
        print("  %3d MB model: %s" % (size, summary_ms(results[size])))
    ratio = big / small
    print("  100 MB median %.1f ms  [target <= 1000 ms: %s]" % (big * 1000, verdict(max(results[100]) <= 1.0)))
    print("  100 MB / 1 MB median ratio %.2f  [target: independent of size, <= 1.5: %s]" % (ratio,
                                                                                         verdict(ratio <= 1.5)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
