"""A device behind a bad network, made with the kernel's own tools: a network namespace joined to
this one by a veth pair, with faults applied inside it.

- packet loss: ``iptables -m statistic --mode random --probability P -j DROP`` on the namespace's
  INPUT and OUTPUT (both directions lose packets);
- blackout: a DROP-all rule in front of everything, removed when the link comes back; nothing is
  closed or refused, packets just vanish, as when a robot drives out of Wi-Fi range;
- bandwidth: ``tc tbf`` on both ends of the veth pair.

The veth ends are told not to build 64 KB segments (``gso_max_size``), so a dropped "packet" is
one wire-sized packet and 5 % loss means what it says. Names carry this process's id so parallel
runs do not collide, and namespaces left by a run that was killed are removed by the next one.
Needs root (CI runs as root); :func:`unavailable` says why it cannot run elsewhere.

A namespace has a /30 of its own, or joins a bridge (the simulated fleet of
:mod:`tests.support.netlab`, whose robots are namespaces made here); :func:`shape` caps any link,
also the bridge's.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from collections.abc import Sequence

PREFIX = "eoc-"
TIMEOUT_S = 30


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=TIMEOUT_S, check=check)


def unavailable() -> str | None:
    """Why network namespaces cannot be used here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces, iptables and tc need root (CI runs as root)"
    for tool in ("ip", "iptables", "tc"):
        if shutil.which(tool) is None:
            return "%s is not installed (installers/dev/system-packages.sh installs it)" % tool
    probe = "%sprobe-%d" % (PREFIX, os.getpid())
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return "cannot create a network namespace: %s" % made.stderr.strip()
    _ip("netns", "del", probe, check=False)
    return None


def ip(*args: str) -> None:
    """``ip ARGS``; a failure raises with ip's own words."""
    done = _ip(*args, check=False)
    if done.returncode != 0:
        raise RuntimeError("ip %s failed: %s" % (" ".join(args), done.stderr.strip()))


def free_prefix() -> str:
    """A ``10.x.y`` prefix that no address on this machine is in, for one test network."""
    used = _ip("-o", "-4", "addr", "show").stdout
    for _ in range(100):
        prefix = "10.%d.%d" % (random.randint(200, 254), random.randint(0, 255))
        if prefix + "." not in used:
            return prefix
    raise RuntimeError("no free 10.x.y.0/24 network for the test network")


def shape(dev: str, bytes_per_s: int | None, burst: int, latency_ms: int, inside: Sequence[str] = ()) -> None:
    """At most ``bytes_per_s`` out of ``dev``, with a queue of ``latency_ms`` (``tc tbf``); None lifts the cap.
    ``inside`` runs ``tc`` elsewhere (a namespace's :attr:`NetNamespace.exec_prefix`)."""
    if bytes_per_s is None:
        subprocess.run([*inside, "tc", "qdisc", "del", "dev", dev, "root"], capture_output=True, timeout=TIMEOUT_S,
                       check=False)
        return
    spec = ["root", "tbf", "rate", "%dbit" % (bytes_per_s * 8), "burst", str(burst), "latency", "%dms" % latency_ms]
    done = subprocess.run([*inside, "tc", "qdisc", "replace", "dev", dev, *spec], capture_output=True, text=True,
                          timeout=TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise RuntimeError("tc on %s failed: %s" % (dev, done.stderr.strip()))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale() -> None:
    """Namespaces of earlier runs whose process is gone (killed before its clean-up ran)."""
    for line in _ip("netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        parts = name[len(PREFIX):].split("-")
        if name.startswith(PREFIX) and parts[0].isdigit() and not _pid_alive(int(parts[0])):
            _destroy(name)


def _destroy(name: str) -> None:
    pids = _ip("netns", "pids", name, check=False).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), 9)
        except (ProcessLookupError, ValueError):
            pass
    _ip("netns", "del", name, check=False)  # takes its veth end, and so the pair, with it


class NetNamespace:
    """One namespace with a veth pair, its end here and ``peer_ip`` inside. Use as a context manager.

    By default the pair is a /30 of its own, ``host_ip`` here. With ``bridge`` the end here joins that
    bridge (which holds ``host_ip``) and the namespace is ``peer_ip``/``prefix_len`` on its network.
    """

    def __init__(self, bridge: str | None = None, host_ip: str | None = None, peer_ip: str | None = None,
                 prefix_len: int = 30) -> None:
        token = "%06x" % random.getrandbits(24)
        self.name = "%s%d-%s" % (PREFIX, os.getpid(), token)
        self.host_dev = "eoch" + token  # interface names are limited to 15 characters
        self.peer_dev = "eocn" + token
        self.bridge = bridge
        if host_ip is None or peer_ip is None:
            prefix = free_prefix()
            host_ip, peer_ip = prefix + ".1", prefix + ".2"
        self.host_ip, self.peer_ip, self.prefix_len = host_ip, peer_ip, prefix_len
        self._blackout = False

    @property
    def exec_prefix(self) -> list[str]:
        """Run a command inside the namespace: ``[*exec_prefix, "sshd", ...]``."""
        return ["ip", "netns", "exec", self.name]

    def run(self, *cmd: str) -> None:
        done = subprocess.run([*self.exec_prefix, *cmd], capture_output=True, text=True, timeout=TIMEOUT_S,
                              check=False)
        if done.returncode != 0:
            raise RuntimeError("%s failed in %s: %s" % (" ".join(cmd), self.name, done.stderr.strip()))

    def create(self) -> NetNamespace:
        remove_stale()
        try:
            ip("netns", "add", self.name)
            ip("link", "add", self.host_dev, "type", "veth", "peer", "name", self.peer_dev)
            ip("link", "set", self.peer_dev, "netns", self.name)
            ip("link", "set", self.host_dev, "gso_max_size", "1500", "gso_max_segs", "1")
            if self.bridge is None:
                ip("addr", "add", "%s/%d" % (self.host_ip, self.prefix_len), "dev", self.host_dev)
            else:
                ip("link", "set", self.host_dev, "master", self.bridge)
            ip("link", "set", self.host_dev, "up")
            self.run("ip", "link", "set", self.peer_dev, "gso_max_size", "1500", "gso_max_segs", "1")
            self.run("ip", "addr", "add", "%s/%d" % (self.peer_ip, self.prefix_len), "dev", self.peer_dev)
            self.run("ip", "link", "set", self.peer_dev, "up")
            self.run("ip", "link", "set", "lo", "up")
        except BaseException:
            self.destroy()
            raise
        return self

    def destroy(self) -> None:
        _destroy(self.name)
        _ip("link", "del", self.host_dev, check=False)  # only there if creating stopped half-way

    def __enter__(self) -> NetNamespace:
        return self.create()

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    # -- faults -------------------------------------------------------------------------------
    def _iptables(self, action: Sequence[str], rule: Sequence[str]) -> None:
        self.run("iptables", *action[:1], "INPUT", *action[1:], "-i", self.peer_dev, *rule)
        self.run("iptables", *action[:1], "OUTPUT", *action[1:], "-o", self.peer_dev, *rule)

    def lose(self, probability: float) -> None:
        """Drop each packet, either way, with this probability."""
        self._iptables(["-A"], ["-m", "statistic", "--mode", "random", "--probability", "%.4f" % probability,
                                "-j", "DROP"])

    def blackout(self) -> None:
        """Nothing gets through either way until :meth:`restore`."""
        if not self._blackout:
            self._iptables(["-I", "1"], ["-j", "DROP"])
            self._blackout = True

    def restore(self) -> None:
        """The link is back (the loss and rate faults stay)."""
        if self._blackout:
            self._iptables(["-D"], ["-j", "DROP"])
            self._blackout = False

    def limit_rate(self, bytes_per_s: int, burst: int = 32 * 1024, latency_ms: int = 100) -> None:
        """At most ``bytes_per_s`` each way, with a queue of ``latency_ms`` (tbf on both ends of the pair)."""
        shape(self.host_dev, bytes_per_s, burst, latency_ms)
        shape(self.peer_dev, bytes_per_s, burst, latency_ms, inside=self.exec_prefix)
