"""A simulated lab on this machine: N robots, each a real OpenSSH sshd in its own network namespace.

Every robot has its own address on a lab network, its own Unix user (with its own HOME, store and
daemon) and reaches the runtime that ``edgectl install`` put on the first robot::

    with start_lab(6, links={"robot-02": Link(rate_bytes_per_s=2_000_000), "robot-03": Link(loss=0.02)},
                   tags={"robot-01": ["canary"]}) as lab:
        code, status = lab.json("fleet", "status", "--tag", "lab", "--json")
        with lab.robot("robot-04").unreachable():
            ...

The lab network is a Linux bridge on this machine (the laptop's side, ``.1``) with one veth pair per
robot (a namespace holds the robot's end, ``.2`` and up). Traffic from the laptop to the robots leaves
through the bridge, so :meth:`Lab.set_uplink` caps it as one shared site link (``tc tbf``); each
robot's own link can be slow (``tc tbf`` on both ends of its pair) or lossy (``iptables -m statistic``
inside its namespace), as :class:`tests.support.netns.NetNamespace` makes them.

The runtime: ``edgectl --device robot-01 install --user-install --prefix PREFIX --wheelhouse DIR`` runs
over SSH as the first robot's user, from the wheelhouse prepared for this machine's system Python the
way the console prepares one; installing on every robot would cost ~20 s each, so the prefix is shared
(readable by every robot's user) and the other robots are registered with its ``bin/edge-runtime``.
Each robot still runs its own daemon, started by its own bridge under its own user, with its own
store in its own ``~/.local/share/edge-runtime`` and its own socket. Each store is provisioned with
``policy: allow-unsigned`` and a short health grace period (:data:`STORE`) before its daemon starts.

The console side is a temp :class:`ConsoleEnv` whose registry holds every robot (tag ``lab`` and the
ones asked for), whose ``known_hosts`` holds each robot's host key, and whose ``~/.ssh/config`` sets a
short ``ConnectTimeout`` so an unreachable robot is named within seconds. :meth:`Lab.edgectl` runs a
command in that console; tools that drive plain ``ssh`` (Ansible) get :meth:`Lab.openssh_config`, and
``start_lab(n, install=False)`` gives them robots with no runtime yet, to install one themselves.

Clean-up stops every process of the lab (sshd, bridges, daemons: each namespace's processes and each
robot user's), deletes the namespaces, the bridge, the users and the temp tree. Names carry this
process's id (``eoc-PID-*`` namespaces, ``eocbPID-N`` bridges, ``eocPIDlNrMM`` users, ``eoc-lab-PID-*``
dirs), so a run that was killed leaves nothing for long: :func:`remove_stale`, called by every
:func:`start_lab`, removes what a dead process left. Needs root, ``ip``, ``iptables``, ``tc``, ``sshd``,
``useradd`` and the system Python with ``venv`` (installers/dev/system-packages.sh installs them);
:func:`unavailable` says why the lab cannot run elsewhere.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from console.cli.main import main as edgectl_main
from console.core.env import ConsoleEnv
from console.core.install.wheelhouse import WheelhouseCache, WheelTarget
from device_runtime.store.config import StoreConfig, save_config
from tests.support import netns
from tests.support.netns import NetNamespace
from tests.support.ssh import SSHD, SshServer, keygen

SYSTEM_PYTHON = "/usr/bin/python3"
# Each robot's store as provisioned: unsigned test packages, and a health gate that decides in seconds.
STORE = StoreConfig(policy="allow-unsigned", health_grace_s=3.0)
TAG = "lab"  # every robot of a lab carries it
CONNECT_TIMEOUT_S = 5
SETUP_WORKERS = 6
TMP_PREFIX = "eoc-lab-"
SHM = Path("/dev/shm")
SHM_NEEDED = 2 << 30
_BRIDGE = re.compile(r"^eocb(\d+)-\d+$")
_USER = re.compile(r"^eoc(\d+)l\d+r\d+$")
_DIR = re.compile(r"^%s(\d+)-" % re.escape(TMP_PREFIX))
_labs = itertools.count(1)
_passwd_lock = threading.Lock()  # useradd and userdel take /etc/passwd's lock and fail when it is held


def unavailable() -> str | None:
    """Why the lab cannot run on this machine, or None when it can."""
    reason = netns.unavailable()
    if reason is not None:
        return reason
    for tool in ("useradd", "userdel"):
        if shutil.which(tool) is None:
            return "%s is not installed (the passwd package)" % tool
    if not os.path.exists(SSHD):
        return "sshd is not installed (installers/dev/system-packages.sh installs openssh-server)"
    venv = subprocess.run([SYSTEM_PYTHON, "-c", "import venv, ensurepip"], capture_output=True, check=False)
    if venv.returncode != 0:
        return "%s cannot create virtual environments: install python3-venv" % SYSTEM_PYTHON
    return None


# -- leftovers ---------------------------------------------------------------------------------
def _pid_gone(pid: int) -> bool:
    return not psutil.pid_exists(pid)


def _kill_user_processes(uids: set[int]) -> None:
    """Every process running as one of ``uids`` (lab robots' own accounts), by its id; returns once each
    is gone or a zombie waiting for its reaper."""
    victims = []
    for proc in psutil.process_iter(["uids"]):
        found = proc.info.get("uids")
        if found is not None and ({found.real, found.effective} & uids):
            victims.append(proc)
    for proc in victims:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    deadline = time.monotonic() + 10
    for proc in victims:
        while time.monotonic() < deadline:
            try:
                if proc.status() == psutil.STATUS_ZOMBIE:
                    break
                proc.wait(0.05)
                break
            except psutil.TimeoutExpired:
                continue
            except psutil.NoSuchProcess:
                break


def _delete_user(name: str) -> None:
    try:
        uid = pwd.getpwnam(name).pw_uid
    except KeyError:
        return
    _kill_user_processes({uid})
    with _passwd_lock:
        subprocess.run(["userdel", name], capture_output=True, timeout=60, check=False)


def _tmp_dirs() -> list[Path]:
    return [Path(tempfile.gettempdir()), SHM]


def memory_tmp() -> Path | None:
    """``/dev/shm`` when it is a RAM file system with room for a lab (the runtime's ~250 MB and small
    stores): a lab there installs and is removed in seconds where a busy disk takes tens of seconds.
    None where it is small (a container's 64 MB default) or absent."""
    try:
        usage = shutil.disk_usage(SHM)
    except OSError:
        return None
    return SHM if usage.free >= SHM_NEEDED else None


def remove_stale() -> None:
    """What labs of processes that are gone left behind: namespaces (and every process in them), bridges,
    users (and their processes), temp trees."""
    netns.remove_stale()
    links = subprocess.run(["ip", "-o", "link", "show", "type", "bridge"], capture_output=True, text=True,
                           timeout=30, check=False).stdout
    for line in links.splitlines():
        name = line.split(":")[1].strip().split("@")[0] if line.count(":") >= 2 else ""
        found = _BRIDGE.match(name)
        if found and _pid_gone(int(found.group(1))):
            subprocess.run(["ip", "link", "del", name], capture_output=True, timeout=30, check=False)
    for entry in pwd.getpwall():
        found = _USER.match(entry.pw_name)
        if found and _pid_gone(int(found.group(1))):
            _delete_user(entry.pw_name)
    for tmp in _tmp_dirs():
        for path in tmp.glob(TMP_PREFIX + "*"):
            found = _DIR.match(path.name)
            if found and _pid_gone(int(found.group(1))):
                shutil.rmtree(path, ignore_errors=True)


def leftovers(pid: int) -> list[str]:
    """Everything a lab of process ``pid`` may leave, as it exists now (empty once cleaned up)."""
    found = []
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=30,
                           check=False).stdout.split()
    found += ["namespace %s" % n for n in names if n.startswith("%s%d-" % (netns.PREFIX, pid))]
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, timeout=30,
                           check=False).stdout
    found += ["link %s" % m for m in re.findall(r"^\d+: (eocb%d-\d+)[:@]" % pid, links, re.MULTILINE)]
    users = [e for e in pwd.getpwall() if (m := _USER.match(e.pw_name)) and int(m.group(1)) == pid]
    found += ["user %s" % e.pw_name for e in users]
    uids = {e.pw_uid for e in users}
    tree = "%s%d-" % (TMP_PREFIX, pid)
    for proc in psutil.process_iter(["uids", "cmdline", "status"]):
        uid_info, cmdline = proc.info.get("uids"), " ".join(proc.info.get("cmdline") or [])
        if proc.info.get("status") == psutil.STATUS_ZOMBIE:
            continue  # dead, waiting for its reaper
        if (uid_info is not None and uid_info.real in uids) or tree in cmdline:  # a robot's, or its sshd
            found.append("process %d %s" % (proc.pid, cmdline))
    found += ["dir %s" % p for tmp in _tmp_dirs() for p in tmp.glob("%s%d-*" % (TMP_PREFIX, pid))]
    return found


# -- the network -------------------------------------------------------------------------------
class LabNetwork:
    """A bridge on this machine with the laptop's address; robots' namespaces join it."""

    def __init__(self, number: int) -> None:
        self.bridge = "eocb%d-%d" % (os.getpid(), number)
        self.prefix = netns.free_prefix()
        self.host_ip = self.prefix + ".1"

    def create(self) -> None:
        netns.ip("link", "add", "name", self.bridge, "type", "bridge")
        netns.ip("addr", "add", self.host_ip + "/24", "dev", self.bridge)
        netns.ip("link", "set", self.bridge, "up")

    def address(self, number: int) -> str:
        return "%s.%d" % (self.prefix, number + 1)

    def robot_namespace(self, address: str) -> NetNamespace:
        """A robot's namespace, ``address`` on this network (made by :meth:`NetNamespace.create`)."""
        return NetNamespace(bridge=self.bridge, host_ip=self.host_ip, peer_ip=address, prefix_len=24)

    def set_uplink(self, bytes_per_s: int | None) -> None:
        netns.shape(self.bridge, bytes_per_s, burst=64 * 1024, latency_ms=200)

    def destroy(self) -> None:
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, timeout=30, check=False)


# -- the lab -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Link:
    """A robot's own link: at most ``rate_bytes_per_s`` each way, and/or each packet lost with ``loss``."""

    rate_bytes_per_s: int | None = None
    loss: float = 0.0

    def __str__(self) -> str:
        parts = ["%.1f MB/s" % (self.rate_bytes_per_s / 1e6)] if self.rate_bytes_per_s else []
        parts += ["%.0f %% loss" % (self.loss * 100)] if self.loss else []
        return ", ".join(parts) or "clean"


@dataclass
class Robot:
    name: str
    user: str
    uid: int
    home: Path
    address: str
    ns: NetNamespace
    server: SshServer
    link: Link
    tags: list[str]

    @property
    def store_root(self) -> Path:
        """The daemon's store (``~/.local/share/edge-runtime`` of the robot's user)."""
        return self.home / ".local" / "share" / "edge-runtime"

    @property
    def socket(self) -> Path:
        return self.home / "run" / "edge-runtime" / "edge-runtime.sock"

    def daemons(self) -> list[list[str]]:
        """The command lines of the robot's own ``edge-runtime serve`` processes."""
        found = []
        for proc in psutil.process_iter(["uids", "cmdline"]):
            uids, cmdline = proc.info["uids"], proc.info["cmdline"] or []
            if uids is not None and uids.real == self.uid and "serve" in cmdline:
                found.append(cmdline)
        return found

    @contextmanager
    def unreachable(self) -> Iterator[Robot]:
        """The robot's link goes black (packets vanish both ways) until the block ends."""
        self.ns.blackout()
        try:
            yield self
        finally:
            self.ns.restore()


@dataclass
class Lab:
    env: ConsoleEnv
    base: Path
    network: LabNetwork
    robots: list[Robot]
    client_key: Path
    prefix: Path  # the shared runtime install
    users: list[str] = field(default_factory=list)

    @property
    def runtime(self) -> str:
        return str(self.prefix / "bin" / "edge-runtime")

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.robots]

    def robot(self, name: str) -> Robot:
        return next(r for r in self.robots if r.name == name)

    def edgectl(self, *argv: str) -> tuple[int, str, str]:
        """``edgectl ARGV`` in this lab's console, in this process: exit code, stdout, stderr."""
        out, err = io.StringIO(), io.StringIO()
        self.env.stdout, self.env.stderr = out, err
        code = edgectl_main(list(argv), self.env)
        return code, out.getvalue(), err.getvalue()

    def json(self, *argv: str) -> tuple[int, Any]:
        code, out, err = self.edgectl(*argv)
        if not out:
            raise AssertionError("edgectl %s printed nothing (exit %d): %s" % (" ".join(argv), code, err))
        return code, json.loads(out)

    def openssh_config(self) -> str:
        """An OpenSSH client config naming every robot (``ssh -F FILE robot-01``), for tools that drive
        plain ``ssh`` rather than ``edgectl``: its address, its user, the lab's key and known hosts."""
        return "".join(
            "Host %s\n    HostName %s\n    User %s\n    IdentityFile %s\n    IdentitiesOnly yes\n"
            "    UserKnownHostsFile %s\n    StrictHostKeyChecking yes\n    ConnectTimeout %d\n"
            % (r.name, r.address, r.user, self.client_key, self.env.known_hosts_path, CONNECT_TIMEOUT_S)
            for r in self.robots)

    def set_uplink(self, bytes_per_s: int | None) -> None:
        """Cap everything the laptop sends to the robots together (one site link), or lift the cap."""
        self.network.set_uplink(bytes_per_s)


def system_target() -> WheelTarget:
    """The wheelhouse target of this machine's system Python (the robots' Python)."""
    out = subprocess.run([SYSTEM_PYTHON, "-c", "import os, platform, sys; print(platform.machine(), "
                          "'%d.%d' % sys.version_info[:2], os.confstr('CS_GNU_LIBC_VERSION').split()[1])"],
                         capture_output=True, text=True, check=True, timeout=60).stdout.split()
    major, minor = out[2].split(".")[:2]
    return WheelTarget(out[0], out[1], (int(major), int(minor)))


def prepare_wheelhouse(data_dir: Path) -> Path:
    """The robots' wheelhouse, prepared by the console's own cache under ``data_dir`` (downloads once)."""
    env = ConsoleEnv(config_dir=data_dir / "cfg", data_dir=data_dir, runtime_dir=data_dir / "run",
                     environ={"HOME": str(data_dir), "PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    return WheelhouseCache(env).prepare(system_target())


def _make_user(name: str, home: Path) -> int:
    with _passwd_lock:
        done = subprocess.run(["useradd", "--no-create-home", "--home-dir", str(home), "--shell", "/bin/sh",
                               "--password", "*", "--comment", "simulated lab robot", name],
                              capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError("useradd %s failed: %s" % (name, done.stderr.strip()))
    return pwd.getpwnam(name).pw_uid


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(root, name), uid, gid)
    os.lchown(path, uid, gid)


class _Builder:
    """Makes the robots of one lab and undoes every step it made (also of a robot made half-way)."""

    def __init__(self, base: Path, network: LabNetwork, number: int, client_pub: Path) -> None:
        self.base = base
        self.network = network
        self.number = number
        self.client_pub = client_pub
        self.users: list[str] = []
        self.namespaces: list[NetNamespace] = []
        self.servers: list[SshServer] = []
        self.uids: list[int] = []
        self._lock = threading.Lock()

    def user(self, index: int) -> tuple[str, int, Path]:
        name = "eoc%dl%dr%02d" % (os.getpid(), self.number, index)
        home = self.base / ("robot-%02d" % index) / "home"
        uid = _make_user(name, home)
        with self._lock:
            self.users.append(name)
            self.uids.append(uid)
        gid = pwd.getpwnam(name).pw_gid
        (home / "run").mkdir(parents=True, mode=0o700)
        save_config(str(home / ".local" / "share" / "edge-runtime"), STORE)
        _chown_tree(home, uid, gid)
        return name, uid, home

    def robot(self, index: int, user: tuple[str, int, Path], link: Link, tags: list[str]) -> Robot:
        name, uid, home = user
        address = self.network.address(index)
        ns = self.network.robot_namespace(address)
        with self._lock:
            self.namespaces.append(ns)
        ns.create()
        server = SshServer(self.base / ("robot-%02d" % index) / "sshd", port=22, address=address,
                           launcher=ns.exec_prefix)
        # sshd keeps the first value of a keyword: the robot's own runtime dir and a plain PATH.
        server.extra = ["SetEnv XDG_RUNTIME_DIR=%s PATH=/usr/bin:/bin" % (home / "run")]
        server.authorize(self.client_pub)
        with self._lock:
            self.servers.append(server)
        server.start()
        if link.rate_bytes_per_s:
            ns.limit_rate(link.rate_bytes_per_s, burst=64 * 1024, latency_ms=200)
        if link.loss:
            ns.lose(link.loss)
        return Robot("robot-%02d" % index, name, uid, home, address, ns, server, link, tags)

    def destroy(self) -> None:
        for server in self.servers:
            server.stop()
        _kill_user_processes(set(self.uids))  # the daemons, and anything else the robots' users still run
        for ns in self.namespaces:
            ns.destroy()
        for name in self.users:
            _delete_user(name)
        self.network.destroy()


@contextmanager
def start_lab(robots: int, *, links: Mapping[str, Link] | None = None,
              tags: Mapping[str, Sequence[str]] | None = None, wheelhouse: Path | None = None,
              install: bool = True, warm: bool = True, tmp: Path | None = None) -> Iterator[Lab]:
    """``robot-01`` .. ``robot-NN``, each tagged :data:`TAG` and its ``tags``, behind its ``links`` entry.

    ``wheelhouse``: a wheelhouse for this machine's system Python (:func:`prepare_wheelhouse`); without
    one, it is prepared in the lab's temp tree (a download). ``install=False`` makes robots with no
    runtime at all (registered without ``--runtime``: what an installer test starts from). ``warm``:
    one ``fleet status`` of the whole lab before it is handed over, so every robot's daemon runs.
    ``tmp``: where the lab's tree goes (the robots' homes and stores, the runtime); default the system's
    temp dir (a disk, as a robot's store is), or pass :func:`memory_tmp` for speed where timing the
    robots' disks is not the point.
    Everything is removed when the block ends, whatever happened in it."""
    reason = unavailable()
    if reason is not None:
        raise RuntimeError("the simulated lab cannot run here: %s" % reason)
    remove_stale()
    links, tags = dict(links or {}), dict(tags or {})
    number = next(_labs)
    network = LabNetwork(number)
    base = Path(tempfile.mkdtemp(prefix="%s%d-" % (TMP_PREFIX, os.getpid()), dir=tmp))
    base.chmod(0o755)  # each robot's user reads its sshd's authorized_keys and the shared runtime in here
    builder = _Builder(base, network, number, base / "client_key.pub")
    try:
        home = base / "console" / "home"
        (home / ".ssh").mkdir(parents=True, mode=0o700)
        (home / ".ssh" / "config").write_text("Host *\n    ConnectTimeout %d\n" % CONNECT_TIMEOUT_S)
        client_key = keygen(base / "client_key")
        env = ConsoleEnv(config_dir=base / "console" / "cfg", data_dir=base / "console" / "data",
                         runtime_dir=base / "console" / "run",
                         environ={"HOME": str(home), "USER": "lab-operator",
                                  "PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        network.create()
        with ThreadPoolExecutor(SETUP_WORKERS) as pool:
            users = list(pool.map(builder.user, range(1, robots + 1)))
            made = list(pool.map(lambda i: builder.robot(i, users[i - 1], links.get("robot-%02d" % i, Link()),
                                                         [TAG, *tags.get("robot-%02d" % i, [])]),
                                 range(1, robots + 1)))
        prefix = base / "runtime"
        prefix.mkdir()
        os.chown(prefix, made[0].uid, pwd.getpwnam(made[0].user).pw_gid)
        lab = Lab(env, base, network, made, client_key, prefix, builder.users)
        _register(lab, install)
        if install:
            _install(lab, wheelhouse or prepare_wheelhouse(base / "wheelhouse-cache"))
            if warm:
                code, status = lab.json("fleet", "status", "--tag", TAG, "--json")
                bad = [r for r in status["devices"] if r["status"] != "ok"]
                if code != 0 or bad:
                    raise RuntimeError("the lab's robots do not all answer: %s" % bad)
        yield lab
    finally:
        builder.destroy()
        shutil.rmtree(base, ignore_errors=True)


def _register(lab: Lab, install: bool) -> None:
    lab.env.known_hosts_path.parent.mkdir(parents=True, exist_ok=True)
    with lab.env.known_hosts_path.open("a") as known:
        for robot in lab.robots:
            kind, blob = robot.server.host_key.with_suffix(".pub").read_text().split()[:2]
            known.write("%s %s %s\n" % (robot.address, kind, blob))  # port 22: the bare address
    for index, robot in enumerate(lab.robots):
        runtime = ["--runtime", lab.runtime] if install and index > 0 else []
        tags = [arg for tag in robot.tags for arg in ("--tag", tag)]
        code, _, err = lab.edgectl("devices", "add", robot.name, "--host", robot.address, "--port", "22",
                                   "--user", robot.user, "--key", str(lab.client_key), *runtime, *tags)
        if code != 0:
            raise RuntimeError("devices add %s failed: %s" % (robot.name, err))


def _install(lab: Lab, wheelhouse: Path) -> None:
    """``edgectl install`` on the first robot, into the shared prefix."""
    first = lab.robots[0]
    code, out, err = lab.edgectl("--device", first.name, "install", "--user-install", "--prefix", str(lab.prefix),
                                 "--wheelhouse", str(wheelhouse), "--python", SYSTEM_PYTHON, "--json")
    if code != 0:
        raise RuntimeError("edgectl install on %s failed:\n%s%s" % (first.name, out[-2000:], err[-2000:]))
    result = json.loads(out.splitlines()[-1])["result"]
    if result["runtime_path"] != lab.runtime:
        raise RuntimeError("the runtime went to %s, not %s" % (result["runtime_path"], lab.runtime))

