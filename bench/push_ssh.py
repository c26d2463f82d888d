"""``edgectl --device robot push FILE`` end to end against OpenSSH ``scp`` of the same file, in the
same run, on a loopback sshd started for the purpose.

Both are whole commands as a user runs them (a fresh process each: start, connect, send, and for
the push the device's sha256 check before it accepts the file). Figure (issue 21): the push's
throughput at least 90 % of scp's, i.e. its time at most 1/0.9 of scp's; rounds alternate the two
and the medians are compared. The push hashes the file while it reads and sends it, and the device
hashes the bytes as they land, so neither side reads the file a second time.

    python bench/push_ssh.py [--mb 256] [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from bench._util import verdict
from bench.ssh_link import loopback_device, openssh_args
from tests.support.daemons import stop_daemon
from tests.support.ssh import RUNTIME

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
TARGET = 0.9


def run(argv: list[str], environ: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=environ, cwd=ROOT, capture_output=True, check=False, timeout=600)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit("%s failed: %s" % (" ".join(argv[:4]), proc.stderr.decode(errors="replace")))
    return elapsed, proc.stdout.decode()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=256)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="eoc-bench-") as raw:
        tmp = Path(raw)
        (tmp / "ssh").mkdir()
        server, env, _entry, key, user = loopback_device(tmp / "ssh")
        data = tmp / "payload.bin"
        with data.open("wb") as handle:
            for _ in range(args.mb):
                handle.write(os.urandom(1 << 20))
        size = data.stat().st_size
        dest = tmp / "scp-dest"
        dest.mkdir()
        (tmp / "cfg" / "edge-console").mkdir(parents=True)
        (tmp / "cfg" / "edge-console" / "known_hosts").write_text(env.known_hosts_path.read_text())
        environ = {"HOME": str(tmp), "XDG_CONFIG_HOME": str(tmp / "cfg"), "XDG_DATA_HOME": str(tmp / "data"),
                   "XDG_RUNTIME_DIR": str(tmp), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                   "USER": user}
        edgectl = [sys.executable, "-m", "console.cli.main"]
        scp = ["scp", *openssh_args(tmp, key, env.known_hosts_path), "-P", str(server.port), str(data),
               "%s@127.0.0.1:%s/scp.bin" % (user, dest)]
        push = [*edgectl, "--device", "robot", "push", str(data), "--json"]
        scp_s: list[float] = []
        push_s: list[float] = []
        try:
            run([*edgectl, "devices", "add", "robot", "--host", "127.0.0.1", "--port", str(server.port), "--user",
                 user, "--key", str(key), "--runtime", RUNTIME], environ)
            run([*edgectl, "--device", "robot", "status"], environ)  # the device's daemon starts on first use
            for i in range(args.runs):
                scp_s.append(run(scp, environ)[0])
                elapsed, out = run(push, environ)
                push_s.append(elapsed)
                report = json.loads(out)
                assert report["size"] == size and report["resumed_from"] == 0, report
                Path(report["path"]).unlink()  # loopback: the device's disk is ours; the next run sends it all
                (dest / "scp.bin").unlink()
                print("run %d: scp %.2f s (%.0f MB/s), edgectl push %.2f s (%.0f MB/s): %.2fx scp's throughput"
                      % (i + 1, scp_s[-1], size / scp_s[-1] / 1e6, push_s[-1], size / push_s[-1] / 1e6,
                         scp_s[-1] / push_s[-1]))
        finally:
            stop_daemon(server.remote_socket)
            server.stop()
    ratio = statistics.median(scp_s) / statistics.median(push_s)
    per_run = sorted(s / p for s, p in zip(scp_s, push_s, strict=True))
    print("%d MB, %d runs: scp median %.2f s, edgectl push median %.2f s; push at %.0f%% of scp's throughput "
          "(per run median %.0f%%) [target >= %.0f%%: %s]"
          % (args.mb, len(push_s), statistics.median(scp_s), statistics.median(push_s), 100 * ratio,
             100 * statistics.median(per_run), 100 * TARGET, verdict(ratio >= TARGET)))
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
