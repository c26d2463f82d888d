"""Deploy of a 100 MB signed package to the loopback SSH device, end to end (upload, verify,
import, load and warm up, swap, health check, commit), against a plain ``scp`` of the same file
to the same sshd, measured in the same run.

Target (issue 5): at most 1.5 times the scp.

    python bench/deploy_ssh.py [--mb 100] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench._util import verdict
from bench.ssh_link import loopback_device, openssh_args, timed
from console.core.keys import KeyStore
from console.core.packages import build_package
from console.core.session import DeviceSession, make_transport
from console.core.store_client import StoreClient
from device_runtime.protocol import StoreKey
from tests.conftest import stop_daemon
from tests.store.helpers import make_onnx


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="eoc-bench-") as raw:
        tmp = Path(raw)
        server, env, entry, key, user = loopback_device(tmp)
        session = DeviceSession(entry, make_transport(entry, env), time.time)
        try:
            keys = KeyStore(env.config_dir / "keys")
            keys.new("bench")
            signer = keys.private_key("bench")
            packages = []
            for i in range(args.rounds):
                model = make_onnx(tmp / ("m%d.onnx" % i), i + 1, padding_bytes=args.mb << 20)
                package = tmp / ("detector-1.%d.0.tar.gz" % i)
                build_package(model, package, "detector", "1.%d.0" % i, "bench", key=signer)
                model.unlink()
                packages.append(package)
            size_mb = packages[0].stat().st_size / 1e6
            scp = ["scp", *openssh_args(tmp, key, env.known_hosts_path), "-P", str(server.port)]
            dest = tmp / "scp-dest"
            dest.mkdir()
            scp_s = min(timed([*scp, str(p), "%s@127.0.0.1:%s/" % (user, dest)]) for p in packages)
            session.connect()
            session.request("store.keys.trust", StoreKey(keys.export("bench"), "bench"))
            client = StoreClient(session, "bench")
            deploys = []
            for package in packages:
                start = time.perf_counter()
                action = client.deploy(package)
                deploys.append(time.perf_counter() - start)
                assert action.result == "committed", action.message
        finally:
            session.close()
            stop_daemon(server.remote_socket)
            server.stop()
    best = min(deploys)
    ratio = best / scp_s
    print("package %.1f MB (a %d MB model), loopback sshd" % (size_mb, args.mb))
    print("scp                 %.2f s  (%.0f MB/s)" % (scp_s, size_mb / scp_s))
    print("deploy end to end   %.2f s  (best of %d: %s)" % (best, len(deploys), ", ".join("%.2f" % d for d in deploys)))
    print("deploy / scp        %.2fx  [target <= 1.5: %s]" % (ratio, verdict(ratio <= 1.5)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
