"""``edgectl status`` end to end against the floor any client pays, measured in the same run.

Issue 21 asks ``edgectl status`` to cost at most 1.5x ``ssh host true``. First the device is a real daemon
on a temp socket, registered as a ``socket`` device, so the link costs nothing and what is left is
edgectl's own start. Each round runs, interleaved:

- ``python -c pass``: the interpreter's start;
- the floor: a fresh Python that connects to the daemon's socket and does the handshake (stdlib only);
- the imports ``edgectl status`` needs, alone (what is left is the bridge process and the requests);
- ``edgectl status`` as it is now (only the status command's module imported);
- ``edgectl status`` with every command module imported first, as edgectl did before;
- over a loopback sshd started for the purpose, ``ssh host true`` and ``edgectl status`` of a registered
  SSH device: issue 21's measure (target: at most 1.5x).

    python bench/edgectl_status_cost.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench._util import verdict
from bench.ssh_link import loopback_device, openssh_args
from device_runtime import protocol
from device_runtime.server.bridge import start_daemon
from tests.support.daemons import stop_daemon
from tests.support.ssh import RUNTIME, SshServer

TARGET = 1.5
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BARE = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall((json.dumps({"type": %r, "id": 1, "protocol": %d, "client": "bench"}) + "\\n").encode())
reply = b""
while not reply.endswith(b"\\n"):
    reply += s.recv(65536)
assert json.loads(reply)["type"] == %r
"""
EDGECTL = "import sys\nfrom console.cli.main import main\nsys.exit(main(['--device', 'bench', 'status']))"
EDGECTL_SSH = "import sys\nfrom console.cli.main import main\nsys.exit(main(['--device', 'robot', 'status']))"
EAGER = ("import sys\nfrom console.cli import main as m\nm.command_modules()\n"
         "sys.exit(m.main(['--device', 'bench', 'status']))")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(argv: list[str], environ: dict[str, str]) -> tuple[float, float]:
    """Wall time, and CPU time of the process and the children it waited for (the bridge): on a shared
    machine the CPU time is the steadier figure."""
    cpu, start = _cpu(), time.perf_counter()
    proc = subprocess.run(argv, env=environ, cwd=ROOT, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit("%s failed: %s" % (argv[-1][:40], proc.stderr.decode(errors="replace")))
    return elapsed, _cpu() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="eoc-bench-") as tmp:
        base = Path(tmp)
        socket_path = base / "rt" / "edge-runtime.sock"
        start_daemon(str(socket_path), str(base / "root"), [])
        environ = {"HOME": str(base), "XDG_CONFIG_HOME": str(base / "cfg"), "XDG_DATA_HOME": str(base / "data"),
                   "XDG_RUNTIME_DIR": str(base), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        (base / "ssh").mkdir()
        (base / "sshcfg" / "edge-console").mkdir(parents=True)
        ssh_environ = {**environ, "XDG_CONFIG_HOME": str(base / "sshcfg")}
        server: SshServer | None = None
        try:
            server, ssh_env, _, key, user = loopback_device(base / "ssh")
            (base / "sshcfg" / "edge-console" / "known_hosts").write_text(ssh_env.known_hosts_path.read_text())
            _timed([sys.executable, "-m", "console.cli.main", "devices", "add", "bench", "--socket",
                    str(socket_path)], environ)
            _timed([sys.executable, "-m", "console.cli.main", "devices", "add", "robot", "--host", "127.0.0.1",
                    "--port", str(server.port), "--user", user, "--key", str(key), "--runtime", RUNTIME], ssh_environ)
            _timed([sys.executable, "-c", EDGECTL_SSH], ssh_environ)  # the device's daemon starts on first use
            hello, welcome = protocol.Hello.TYPE, protocol.Welcome.TYPE
            runs = {
                "python -c pass": [sys.executable, "-c", "pass"],
                "bare handshake": [sys.executable, "-c", BARE % (hello, protocol.PROTOCOL_VERSION, welcome),
                                   str(socket_path)],
                "its imports alone": [sys.executable, "-c", "import console.cli.main, console.cli.cmd_basic"],
                "edgectl status": [sys.executable, "-c", EDGECTL],
                "every module first": [sys.executable, "-c", EAGER],
            }
            over_ssh = {
                "ssh host true": ["ssh", "-p", str(server.port), *openssh_args(base, key, ssh_env.known_hosts_path),
                                  "%s@127.0.0.1" % user, "true"],
                "edgectl status, SSH": [sys.executable, "-c", EDGECTL_SSH],
            }
            times: dict[str, list[tuple[float, float]]] = {name: [] for name in [*runs, *over_ssh]}
            for _ in range(args.rounds):
                for name, argv in runs.items():
                    times[name].append(_timed(argv, environ))
                for name, argv in over_ssh.items():
                    times[name].append(_timed(argv, ssh_environ))
        finally:
            subprocess.run([sys.executable, "-m", "device_runtime", "stop", "--socket", str(socket_path)],
                           capture_output=True, check=False, timeout=30)
            if server is not None:
                stop_daemon(server.remote_socket)
                server.stop()
    wall = {name: statistics.median(t[0] for t in values) for name, values in times.items()}
    cpu = {name: statistics.median(t[1] for t in values) for name, values in times.items()}
    for name in runs:
        print("%-20s wall %6.0f ms (%5.2fx)   cpu %6.0f ms (%5.2fx the bare handshake)" % (
            name, wall[name] * 1000, wall[name] / wall["bare handshake"], cpu[name] * 1000,
            cpu[name] / cpu["bare handshake"]))
    for label, m in (("wall", wall), ("cpu", cpu)):
        now, before = m["edgectl status"], m["every module first"]
        print("%s: only the command's module saves %.0f ms (every module first is %.2fx); imports are %.0f%% of "
              "edgectl status" % (label, (before - now) * 1000, before / now, 100 * m["its imports alone"] / now))
    for name in over_ssh:
        print("%-20s wall %6.0f ms (%5.2fx ssh host true)" % (name, wall[name] * 1000,
                                                                wall[name] / wall["ssh host true"]))
    ratio = wall["edgectl status"] / wall["bare handshake"]
    print("on the socket: edgectl status at %.2fx a bare handshake's wall time" % ratio)
    ratio = wall["edgectl status, SSH"] / wall["ssh host true"]
    print("%s: over SSH, edgectl status at %.2fx ssh host true (target %.1fx)" % (verdict(ratio <= TARGET), ratio,
                                                                                 TARGET))
    print(json.dumps({label: {k: round(v, 4) for k, v in m.items()} for label, m in (("wall", wall), ("cpu", cpu))}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
