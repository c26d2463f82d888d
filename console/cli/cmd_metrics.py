"""``edgectl -d ROBOT metrics-tunnel --port N``: the robot's Prometheus endpoint on this computer's
loopback, through an OpenSSH tunnel to its metrics socket, until Ctrl+C.

The device serves its metrics on a unix socket only (``edge-runtime serve --prometheus
unix:/run/edge-runtime/metrics.sock``); this runs ``ssh -N -L 127.0.0.1:N:SOCKET`` with the
device's registry entry (address, port, user, key) and the host keys the console trusts, so a
Prometheus or Grafana on this computer scrapes ``127.0.0.1:N``. A Prometheus server runs the same
tunnel as a service (installers/prometheus/edge-metrics-tunnel@.service).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import threading
from typing import IO, Any

from console.cli.registry import Commands
from console.core.app import ConsoleCore
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from console.core.settings import DeviceEntry

DEFAULT_SOCKET = "/run/edge-runtime/metrics.sock"
# -v's last line before ssh serves: its forwarding listeners are bound by then ("Local forwarding
# listening on" is logged before the bind).
READY = "Entering interactive session."
NOISE = ("debug", "OpenSSH_", "Authenticated to", "Transferred:", "Bytes per second:")


def register(sub: Any, commands: Commands) -> None:
    tunnel = sub.add_parser("metrics-tunnel", help="serve the device's Prometheus metrics on 127.0.0.1:PORT here "
                                                   "(an SSH tunnel, until Ctrl+C)")
    tunnel.add_argument("--port", type=int, required=True, help="the loopback port Prometheus scrapes")
    tunnel.add_argument("--socket", default=DEFAULT_SOCKET,
                        help="the runtime's metrics socket on the device (default %(default)s)")
    commands["metrics-tunnel"] = _metrics_tunnel


def ssh_argv(ssh: str, entry: DeviceEntry, env: ConsoleEnv, port: int, socket: str) -> list[str]:
    """OpenSSH's command line for the tunnel: the entry's address, port, user and key; the host keys
    the console trusts and the user's own; never a new host key (confirm one with edgectl first)."""
    argv = [ssh, "-N", "-v", "-o", "ExitOnForwardFailure=yes", "-o", "ServerAliveInterval=10",
            "-o", "ServerAliveCountMax=3", "-o", "StrictHostKeyChecking=yes",
            "-o", 'UserKnownHostsFile="%s" "%s"' % (env.known_hosts_path, env.home / ".ssh" / "known_hosts")]
    if env.ssh_config_path.exists():
        argv += ["-F", str(env.ssh_config_path)]
    if entry.port:
        argv += ["-p", str(entry.port)]
    if entry.user:
        argv += ["-l", entry.user]
    if entry.key:
        argv += ["-i", entry.key, "-o", "IdentitiesOnly=yes"]
    return [*argv, "-L", "127.0.0.1:%d:%s" % (port, socket), "--", entry.host or entry.name]


def _read(stream: IO[str], needle: str, up: threading.Event, changed: threading.Event, said: list[str]) -> None:
    """ssh's stderr: ``up`` once the tunnel listens, ``changed`` then or when ssh is gone; its own
    messages (not -v's debug lines nor its banners) kept for the reason of a failure."""
    for line in stream:
        if needle in line:
            up.set()
            changed.set()
        elif not line.startswith(NOISE):
            said.append(line.strip().rstrip("."))
    changed.set()


def _metrics_tunnel(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    entry = core.registry.get(args.device)
    if entry.kind != "ssh":
        env.stderr.write("edgectl: %s is on this computer: no tunnel is needed; serve its metrics with "
                         "`edge-runtime serve --prometheus 127.0.0.1:%d`\n" % (entry.display_name, args.port))
        return ExitCode.USAGE
    if not 0 < args.port < 65536:
        env.stderr.write("edgectl: --port %d is out of range (1-65535)\n" % args.port)
        return ExitCode.USAGE
    ssh = shutil.which("ssh", path=env.environ.get("PATH"))
    if ssh is None:
        env.stderr.write("edgectl: the OpenSSH client (ssh) is not installed; install openssh-client\n")
        return ExitCode.ERROR
    proc = subprocess.Popen(ssh_argv(ssh, entry, env, args.port, args.socket), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=dict(env.environ))
    assert proc.stderr is not None
    said: list[str] = []
    up, changed = threading.Event(), threading.Event()
    reader = threading.Thread(target=_read, args=(proc.stderr, READY, up, changed, said),
                              daemon=True)
    reader.start()
    try:
        changed.wait()
        if up.is_set():
            env.stdout.write("%s's metrics: http://127.0.0.1:%d/metrics (Ctrl+C to stop)\n"
                             % (entry.display_name, args.port))
            env.stdout.flush()
        code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()
        return ExitCode.OK
    reader.join(timeout=5)
    reason = "; ".join(said[-3:]) or "ssh exited with status %d" % code
    if not up.is_set():
        hint = ("Confirm its host key first: edgectl -d %s status" % args.device
                if "Host key verification failed" in reason else
                "Is port %d free here, and does `edgectl -d %s status` connect?" % (args.port, args.device))
        env.stderr.write("edgectl: no tunnel to %s: %s. %s\n" % (entry.display_name, reason, hint))
    else:
        env.stderr.write("edgectl: the tunnel to %s closed: %s. Run the command again\n"
                         % (entry.display_name, reason))
    return ExitCode.UNREACHABLE
