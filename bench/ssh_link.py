"""The SSH link against OpenSSH in the same run, on a loopback sshd started for the purpose.

Figures (issue 8): connect + handshake <= 1.5x ``ssh host true``; a protocol request's round trip
p99 <= 2 ms; a 256 MB upload >= 90% of ``scp``'s throughput with >= 4 progress updates a second;
streaming again within 5 s of a dropped link.

    python bench/ssh_link.py [--mb 256] [--pings 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench._util import percentile, summary_ms, verdict
from console.core.devices.session import DeviceSession, State, make_transport
from console.core.env import ConsoleEnv
from console.core.settings import DeviceEntry
from console.transport.sftp_upload import UploadProgress, upload
from console.transport.ssh import SshTransport
from tests.support.daemons import stop_daemon
from tests.support.ssh import RUNTIME, SshServer, keygen


def openssh_args(tmp: Path, key: Path, known: Path) -> list[str]:
    return ["-F", "/dev/null", "-o", "UserKnownHostsFile=%s" % known, "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes", "-i", str(key)]


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    return time.perf_counter() - start


def loopback_device(tmp: Path) -> tuple[SshServer, ConsoleEnv, DeviceEntry, Path, str]:
    """A started sshd on 127.0.0.1 that knows a fresh client key, a console environment that
    trusts its host key, and the device entry that reaches it (runtime of this checkout)."""
    key = keygen(tmp / "client_key")
    server = SshServer(tmp / "sshd")
    server.authorize(key.with_suffix(".pub"))
    server.start()
    user = os.environ.get("USER") or "root"
    env = ConsoleEnv(config_dir=tmp / "cfg", data_dir=tmp / "data", runtime_dir=tmp / "run",
                     environ={"HOME": str(tmp), "USER": user})
    env.config_dir.mkdir(parents=True)
    kind, blob = server.host_key.with_suffix(".pub").read_text().split()[:2]
    env.known_hosts_path.write_text("[127.0.0.1]:%d %s %s\n" % (server.port, kind, blob))
    entry = DeviceEntry(name="bench", kind="ssh", host="127.0.0.1", port=server.port, user=user, key=str(key),
                        runtime=RUNTIME)
    return server, env, entry, key, user


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=256)
    parser.add_argument("--pings", type=int, default=2000)
    parser.add_argument("--connects", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="eoc-bench-") as raw:
        tmp = Path(raw)
        server, env, entry, key, user = loopback_device(tmp)
        ssh = ["ssh", *openssh_args(tmp, key, env.known_hosts_path), "-p", str(server.port), "%s@127.0.0.1" % user]
        ok = True
        try:
            ok &= bench_connect(ssh, entry, env, args.connects)
            ok &= bench_rtt(entry, env, args.pings)
            ok &= bench_upload(tmp, key, server, user, entry, env, args.mb)
            ok &= bench_reconnect(server, entry, env)
        finally:
            stop_daemon(server.remote_socket)
            server.stop()
    return 0 if ok else 1


def bench_connect(ssh: list[str], entry: object, env: ConsoleEnv, n: int) -> bool:
    timed([*ssh, "true"])  # warm caches
    baseline = [timed([*ssh, "true"]) for _ in range(n)]
    ours = []
    for i in range(n + 1):
        session = DeviceSession(entry, make_transport(entry, env), env.clock)  # type: ignore[arg-type]
        start = time.perf_counter()
        session.connect()
        elapsed = time.perf_counter() - start
        session.close()
        if i:  # the first one also starts the device's daemon
            ours.append(elapsed)
    ratio = statistics.median(ours) / statistics.median(baseline)
    print("connect+handshake  console median %.1f ms, ssh host true median %.1f ms, ratio %.2f (<= 1.5) %s"
          % (statistics.median(ours) * 1e3, statistics.median(baseline) * 1e3, ratio, verdict(ratio <= 1.5)))
    return ratio <= 1.5


def bench_rtt(entry: object, env: ConsoleEnv, n: int) -> bool:
    session = DeviceSession(entry, make_transport(entry, env), env.clock)  # type: ignore[arg-type]
    session.connect()
    try:
        for _ in range(50):
            session.ping()
        times = [session.ping() for _ in range(n)]
    finally:
        session.close()
    p99 = percentile(times, 99) * 1e3
    print("request round trip %s (p99 <= 2 ms) %s" % (summary_ms(times), verdict(p99 <= 2.0)))
    return p99 <= 2.0


def bench_upload(tmp: Path, key: Path, server: SshServer, user: str, entry: object, env: ConsoleEnv,
                 mb: int) -> bool:
    data = tmp / "payload.bin"
    with data.open("wb") as handle:
        for _ in range(mb):
            handle.write(os.urandom(1 << 20))
    size = data.stat().st_size
    dest = tmp / "device"
    dest.mkdir()
    scp = ["scp", *openssh_args(tmp, key, env.known_hosts_path), "-P", str(server.port)]
    scp_s = min(timed([*scp, str(data), "%s@127.0.0.1:%s/scp.bin" % (user, dest)]) for _ in range(2))
    transport = make_transport(entry, env)  # type: ignore[arg-type]
    assert isinstance(transport, SshTransport)
    conn = transport.connection()
    reports: list[UploadProgress] = []
    best_transfer, best_total = float("inf"), float("inf")
    try:
        for i in range(2):
            reports.clear()
            start = time.perf_counter()
            upload(conn, data, str(dest / ("run%d" % i)), progress=reports.append)
            best_total = min(best_total, time.perf_counter() - start)
            best_transfer = min(best_transfer, reports[-1].elapsed_s)
    finally:
        transport.close()
    scp_rate, transfer_rate, total_rate = size / scp_s, size / best_transfer, size / best_total
    updates = len(reports) / reports[-1].elapsed_s
    ratio = transfer_rate / scp_rate
    print("upload %d MB      scp %.0f MB/s, console %.0f MB/s transfer (%.2fx scp, >= 0.90) %s; "
          "%.0f MB/s with both sha256 checks and the rename" % (mb, scp_rate / 1e6, transfer_rate / 1e6, ratio,
                                                                verdict(ratio >= 0.9), total_rate / 1e6))
    print("upload progress    %.1f updates/s (>= 4) %s" % (updates, verdict(updates >= 4)))
    return ratio >= 0.9 and updates >= 4


def bench_reconnect(server: SshServer, entry: object, env: ConsoleEnv) -> bool:
    session = DeviceSession(entry, make_transport(entry, env), env.clock)  # type: ignore[arg-type]
    session.enable_reconnect()
    arrived = threading.Event()
    session.sample_listeners.append(lambda _t, _v: arrived.set())
    session.connect()
    session.start_telemetry(10.0)
    try:
        gaps = []
        for _ in range(5):
            arrived.wait(10)
            server.kill_sessions()
            cut = time.perf_counter()
            deadline = cut + 30
            while session.state is State.CONNECTED and time.perf_counter() < deadline:
                time.sleep(0.005)
            arrived.clear()
            arrived.wait(30)
            gaps.append(time.perf_counter() - cut)
    finally:
        session.close()
    worst = max(gaps)
    print("reconnect          streaming again after a dropped link: %s (worst <= 5 s) %s"
          % (", ".join("%.2f s" % g for g in gaps), verdict(worst <= 5.0)))
    return worst <= 5.0


if __name__ == "__main__":
    sys.exit(main())
