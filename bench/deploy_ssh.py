"""Deploy of a 100 MB signed package to the loopback SSH device, end to end (upload, verify,
import, load and warm up, swap, health check, commit), against a plain ``scp`` of the same file
to the same sshd, measured in the same run.

Target (issue 5): at most 1.5 times the scp. Each deploy's time is broken down into its phases
(as the console sees them) and the CPU each side used, because on a small machine the figure is
bound by CPU: the SSH encryption on both ends, the device's unpack and its warm-up load share
the same cores.

    python bench/deploy_ssh.py [--mb 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import psutil

from bench._util import verdict
from bench.ssh_link import loopback_device, openssh_args, timed
from console.core.devices.keys import KeyStore
from console.core.devices.session import DeviceSession, make_transport
from console.core.models.packages import build_package
from console.core.models.store_client import StoreClient
from device_runtime.protocol import Record, StoreAction, StoreKey
from tests.support.daemons import stop_daemon
from tests.support.ssh import SshServer
from tests.support.store import make_onnx


class Timeline:
    """When each request left and came back, when the last byte went, when each stage began."""

    def __init__(self, session: DeviceSession) -> None:
        self.start = 0.0
        self.marks: list[tuple[float, str]] = []
        request = session.request

        def timed_request(method: str, params: Record | None = None, timeout: float = 30.0) -> Record:
            self.mark("-> " + method)
            try:
                return request(method, params, timeout=timeout)
            finally:
                self.mark("<- " + method)

        session.request = timed_request  # type: ignore[method-assign]

    def mark(self, what: str) -> None:
        self.marks.append((time.perf_counter(), what))

    def at(self, what: str) -> float:
        return next(t for t, w in self.marks if w == what) - self.start

    def stage(self, action: StoreAction) -> None:
        if not any(w == "stage " + action.stage for _, w in self.marks):
            self.mark("stage " + action.stage)

    def sent(self, done: int, total: int) -> None:
        if done == total:
            self.mark("sent")

    def breakdown(self, total: float) -> str:
        begin, sent = self.at("-> store.upload.begin"), self.at("sent")
        finish_out, finish_back = self.at("-> store.upload.finish"), self.at("<- store.upload.finish")
        import_back = self.at("<- store.import")
        staged = next((t - self.start for t, w in self.marks if w.startswith("stage ") and (
            "arrived" in w or "imported" in w)), import_back)
        return ("hash %.2f | begin %.2f | send %.2f | finish %.2f | import %.2f | activate %.2f"
                % (begin, self.at("<- store.upload.begin") - begin, sent - self.at("<- store.upload.begin"),
                   finish_back - finish_out + (finish_out - sent), staged - finish_back, total - staged))


def cpu_seconds(server: SshServer) -> dict[str, float]:
    """CPU used so far by this console, the sshd (and its sessions), the daemon and its children."""
    def used(proc: Any, children: bool = False) -> float:
        try:
            t = proc.cpu_times()
        except psutil.Error:
            return 0.0
        return t.user + t.system + ((t.children_user + t.children_system) if children else 0.0)

    assert server.proc is not None
    sshd = psutil.Process(server.proc.pid)
    daemon = psutil.Process(int(Path(str(server.remote_socket) + ".lock").read_text().strip()))
    device = {daemon.pid, *(p.pid for p in daemon.children(recursive=True))}
    return {"console": used(psutil.Process()),
            "sshd": used(sshd) + sum(used(p) for p in sshd.children(recursive=True) if p.pid not in device),
            "device": used(daemon, children=True) + sum(used(p) for p in daemon.children(recursive=True))}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    lines: list[str] = []
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
                start = time.perf_counter()
                build_package(model, package, "detector", "1.%d.0" % i, "bench", key=signer)
                lines.append("build %d               %.2f s" % (i + 1, time.perf_counter() - start))
                model.unlink()
                packages.append(package)
            size_mb = packages[0].stat().st_size / 1e6
            scp = ["scp", *openssh_args(tmp, key, env.known_hosts_path), "-P", str(server.port)]
            dest = tmp / "scp-dest"
            dest.mkdir()
            scps = [timed([*scp, str(p), "%s@127.0.0.1:%s/" % (user, dest)]) for p in packages]
            session.connect()
            session.request("store.keys.trust", StoreKey(keys.export("bench"), "bench"))
            client = StoreClient(session, "bench")
            timeline = Timeline(session)
            deploys = []
            for i, package in enumerate(packages):
                before = cpu_seconds(server)
                timeline.marks.clear()
                timeline.start = start = time.perf_counter()
                action = client.deploy(package, progress=timeline.stage, upload_progress=timeline.sent)
                deploys.append(time.perf_counter() - start)
                assert action.result == "committed", action.message
                after = cpu_seconds(server)
                streamed = any("as it arrived" in note for note in action.notes)
                lines.append("deploy %d             %.2f s = %s%s" % (i + 1, deploys[-1], timeline.breakdown(
                    deploys[-1]), "" if streamed else "  (not unpacked as it arrived: %s)" % "; ".join(action.notes)))
                lines.append("  cpu-s              %s (of %.2f on %d cores)" % (
                    ", ".join("%s %.2f" % (k, after[k] - before[k]) for k in after), deploys[-1] * psutil.cpu_count(),
                    psutil.cpu_count()))
        finally:
            session.close()
            stop_daemon(server.remote_socket)
            server.stop()
    best, scp_s = min(deploys), min(scps)
    ratio = best / scp_s
    print("package %.1f MB (a %d MB model), loopback sshd" % (size_mb, args.mb))
    print("\n".join(lines))
    print("scp                 %.2f s  (%.0f MB/s; runs: %s)" % (scp_s, size_mb / scp_s,
                                                                 ", ".join("%.2f" % s for s in scps)))
    print("deploy end to end   %.2f s  (best of %d: %s)" % (best, len(deploys), ", ".join("%.2f" % d for d in deploys)))
    print("deploy / scp        %.2fx  [target <= 1.5: %s]  (each deploy / best scp: %s)" % (
        ratio, verdict(ratio <= 1.5), ", ".join("%.2f" % (d / scp_s) for d in deploys)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
