"""Real OpenSSH servers on 127.0.0.1 for the SSH tests.

Each ``sshd`` runs in the foreground (``-D -e``) as the current user, with its own host key, a temp
``authorized_keys`` and ``StrictModes no``; it is ready when it logs "Server listening". The remote
side runs this repository's ``edge-runtime bridge`` with its socket and state in temp dirs (set
through the server's ``SetEnv``), so nothing touches the real ``~/.ssh`` or another test's daemon.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from console.core.env import ConsoleEnv
from console.core.settings import DeviceEntry

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


RUNTIME = str(Path(sys.executable).parent / "edge-runtime")


READY_TIMEOUT_S = 15.0


def keygen(path: Path, kind: str = "ed25519", passphrase: str = "") -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-C", "eoc-test", "-f", str(path)],
                   check=True, capture_output=True, timeout=60)
    return path


def fingerprint(pub: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-lf", str(pub)], check=True, capture_output=True, text=True,
                         timeout=30).stdout
    return out.split()[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SshServer:
    """One running sshd and what a client needs to know about it."""

    root: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    address: str = "127.0.0.1"
    launcher: list[str] = field(default_factory=list)  # runs sshd elsewhere, e.g. ["ip", "netns", "exec", NS]
    host_key: Path = field(init=False)
    authorized_keys: Path = field(init=False)
    remote_runtime_dir: Path = field(init=False)
    remote_data_dir: Path = field(init=False)
    log: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # sshd_config lines that win over the defaults

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.host_key = keygen(self.root / "ssh_host_ed25519_key")
        self.authorized_keys = self.root / "authorized_keys"
        self.authorized_keys.touch()
        self.remote_runtime_dir = self.root / "rrun"
        self.remote_data_dir = self.root / "rdata"
        self.remote_runtime_dir.mkdir(mode=0o700)

    @property
    def host_fingerprint(self) -> str:
        return fingerprint(self.host_key.with_suffix(".pub"))

    @property
    def remote_socket(self) -> Path:
        return self.remote_runtime_dir / "edge-runtime" / "edge-runtime.sock"

    def authorize(self, pub: Path) -> None:
        with self.authorized_keys.open("a") as handle:
            handle.write(pub.read_text())

    def config(self) -> str:
        return "\n".join([
            *self.extra,  # sshd keeps the first value of a keyword, so these override the defaults below
            "Port %d" % self.port,
            "ListenAddress %s" % self.address,
            "HostKey %s" % self.host_key,
            "PidFile none",
            "AuthorizedKeysFile %s" % self.authorized_keys,
            "StrictModes no",
            "UsePAM no",
            "PubkeyAuthentication yes",
            "PasswordAuthentication yes",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin yes",
            "AllowAgentForwarding yes",  # the client must never ask; the server would allow it
            "AllowTcpForwarding yes",
            "X11Forwarding no",
            "Subsystem sftp internal-sftp",
            # The device's environment: its own runtime state dirs, and this repo's edge-runtime on PATH.
            "SetEnv XDG_RUNTIME_DIR=%s XDG_DATA_HOME=%s PATH=%s:/usr/bin:/bin"
            % (self.remote_runtime_dir, self.remote_data_dir, Path(RUNTIME).parent),
            "LogLevel VERBOSE",
            "MaxStartups 50",
            "",
        ])

    def start(self) -> None:
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation dir
        for _ in range(5):
            self.port = self.port or free_port()
            cfg = self.root / "sshd_config"
            cfg.write_text(self.config())
            self.proc = subprocess.Popen([*self.launcher, SSHD, "-D", "-e", "-f", str(cfg)], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if self._wait_ready():
                return
            self.stop()
            self.port = 0  # lost the port to someone else: take another
        raise RuntimeError("sshd did not start:\n%s" % "\n".join(self.log[-20:]))

    def _wait_ready(self) -> bool:
        assert self.proc is not None and self.proc.stderr is not None
        fd = self.proc.stderr.fileno()
        deadline = time.monotonic() + READY_TIMEOUT_S
        buffer = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                return False
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            self.log.extend(line.decode("utf-8", "replace") for line in lines)
            if any("Server listening on %s port %d" % (self.address, self.port) in line for line in self.log):
                os.set_blocking(fd, False)
                return True
        return False

    def read_log(self) -> str:
        """Everything sshd logged so far (it keeps logging to a pipe only we read)."""
        if self.proc is not None and self.proc.stderr is not None:
            try:
                while chunk := os.read(self.proc.stderr.fileno(), 65536):
                    self.log.extend(chunk.decode("utf-8", "replace").splitlines())
            except (BlockingIOError, ValueError, OSError):
                pass
        return "\n".join(self.log)

    def session_processes(self) -> list[psutil.Process]:
        """The per-connection sshd processes (the listener itself excluded)."""
        assert self.proc is not None
        found = []
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        for child in children:
            try:  # a connection's process may end between the listing and this look
                if child.name() == "sshd":
                    found.append(child)
            except psutil.NoSuchProcess:
                continue
        return found

    def kill_sessions(self) -> int:
        """Cut every open connection the way a dying link or a crashed sshd does."""
        victims = self.session_processes()
        for proc in victims:
            try:
                proc.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        return len(victims)

    def stop(self) -> None:
        if self.proc is None:
            return
        for proc in self.session_processes() if self.proc.poll() is None else []:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc = None


@dataclass
class SshWorld:
    """A console environment (temp HOME with its own ~/.ssh) and the servers it may reach."""

    env: ConsoleEnv
    home: Path
    client_key: Path
    servers: list[SshServer]

    @property
    def ssh_dir(self) -> Path:
        return self.home / ".ssh"

    def write_ssh_config(self, text: str) -> None:
        self.ssh_dir.mkdir(mode=0o700, exist_ok=True)
        (self.ssh_dir / "config").write_text(text)

    def entry(self, name: str = "robot", server: SshServer | None = None, **kw: object) -> DeviceEntry:
        server = server or self.servers[0]
        fields: dict[str, object] = {"host": server.address, "port": server.port, "user": self.env.local_user,
                                     "key": str(self.client_key), "runtime": RUNTIME}
        fields.update(kw)
        return DeviceEntry(name=name, kind="ssh", **fields)  # type: ignore[arg-type]

    def trust(self, server: SshServer) -> None:
        """Put the server's host key in the console's known_hosts, as a confirmed device has."""
        self.env.known_hosts_path.parent.mkdir(parents=True, exist_ok=True)
        kind, blob = server.host_key.with_suffix(".pub").read_text().split()[:2]
        with self.env.known_hosts_path.open("a") as handle:
            handle.write("[%s]:%d %s %s\n" % (server.address, server.port, kind, blob))


def start_server(root: Path, client_pub: Path) -> SshServer:
    server = SshServer(root)
    server.authorize(client_pub)
    server.start()
    return server


def current_user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name
