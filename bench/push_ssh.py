"""``edgectl push``'s core against OpenSSH ``scp`` in the same run, on a loopback sshd started for
the purpose. Figures (issue 8): the upload >= 90 % of scp's throughput, progress at least 4 times
a second. Printed: the sending phase alone (what scp does), and the whole push end to end (the
local sha256, the device's offset, the sending, and the device's own sha256 before it accepts it).

    python bench/push_ssh.py [--mb 256] [--runs 3]
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
from console.core.push import Pusher
from console.core.push_progress import SENDING, VERIFYING, PushProgress
from console.core.session import DeviceSession, make_transport
from tests.conftest import stop_daemon


class TimedPusher(Pusher):
    """Notes the moment of each change of state, finer than the progress ticks."""

    changes: list[tuple[float, str]]

    def _set(self, state: str, message: str = "", sent: int | None = None) -> None:
        self.__dict__.setdefault("changes", []).append((time.perf_counter(), state))
        super()._set(state, message, sent)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="eoc-bench-") as raw:
        tmp = Path(raw)
        server, env, entry, key, user = loopback_device(tmp)
        data = tmp / "payload.bin"
        with data.open("wb") as handle:
            for _ in range(args.mb):
                handle.write(os.urandom(1 << 20))
        size = data.stat().st_size
        dest = tmp / "scp-dest"
        dest.mkdir()
        scp = ["scp", *openssh_args(tmp, key, env.known_hosts_path), "-P", str(server.port)]
        session = DeviceSession(entry, make_transport(entry, env), env.clock)
        ok = True
        try:
            session.connect()
            for run in range(args.runs):
                scp_s = timed([*scp, str(data), "%s@127.0.0.1:%s/scp.bin" % (user, dest)])
                reports: list[PushProgress] = []
                pusher = TimedPusher(session, data, reports.append)
                result = pusher.run()
                Path(result.path).unlink()  # loopback: the device's disk is ours; the next run sends it all again
                started = next(at for at, state in pusher.changes if state == SENDING)
                send_s = next(at for at, state in pusher.changes if state == VERIFYING) - started
                ticks = sum(1 for p in reports if p.state == SENDING) / send_s if send_s > 0 else 0.0
                ratio = scp_s / send_s
                good = ratio >= 0.9 and ticks >= 4
                ok &= good
                print("push run %d: %d MB  scp %.0f MB/s (its connect included), push sending %.0f MB/s "
                      "(%.2fx scp, >= 0.90), end to end %.0f MB/s (both sha256s included); "
                      "%.1f progress reports/s (>= 4) %s"
                      % (run + 1, args.mb, size / scp_s / 1e6, size / send_s / 1e6, ratio,
                         size / result.seconds / 1e6, ticks, verdict(good)))
        finally:
            session.close()
            stop_daemon(server.remote_socket)
            server.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
