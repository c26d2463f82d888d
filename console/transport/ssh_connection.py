"""One logged-in SSH connection to a device, through its jump hosts, watched by keepalives.

Each hop is a paramiko transport; the next hop rides a ``direct-tcpip`` channel of the previous
one, so every hop's host key is checked on its own. The socket options are the ones that make
paramiko fast: ``TCP_NODELAY`` (Nagle costs 40 ms per small request) and AES-GCM first.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import paramiko

from console.transport.hostkeys import HostKeyChanged, HostKeyStore, UnknownHostKey
from console.transport.ssh_auth import Authenticator
from console.transport.ssh_config import Hop, Route
from console.transport.ssh_errors import SshError
from console.transport.ssh_keys import (
    KeyInstallError,
    KeyOffer,
    find_public_key,
    install_public_key,
    new_key_offer,
    save_new_key,
    why_no_offer,
)
from console.transport.ssh_prompts import SshPrompts

FAST_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
KEEPALIVE_REQUEST = "keepalive@openssh.com"
SFTP_WINDOW = 16 << 20  # paramiko's 2 MB default stalls pipelined writes on fast links
DIAL_ATTEMPT_S = 2.0  # a new TCP connect this often while a device does not answer


@dataclass
class RunResult:
    code: int
    stdout: bytes
    stderr: bytes


def _tune_socket(sock: socket.socket, dead_after_s: float) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    user_timeout = getattr(socket, "TCP_USER_TIMEOUT", None)
    if user_timeout is not None:  # unacknowledged data for this long ends the connection (Linux)
        sock.setsockopt(socket.IPPROTO_TCP, user_timeout, int(dead_after_s * 1000))


def dial(host: str, port: int, timeout_s: float, attempt_s: float = DIAL_ATTEMPT_S) -> socket.socket:
    """TCP connect within ``timeout_s``, with a fresh SYN every ``attempt_s``. The kernel's own
    retransmissions back off (1, 3, 7, 15 s): a link that comes back during a long wait would be
    noticed only seconds later, and the console must stream again within a few seconds of it."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        try:
            return socket.create_connection((host, port), timeout=max(0.05, min(attempt_s, left)))
        except TimeoutError:
            if deadline - time.monotonic() <= 0:
                raise


_Sock = socket.socket | paramiko.Channel | paramiko.ProxyCommand


class SshConnection:
    """Connect once (:meth:`connect`); then exec channels and SFTP share the link."""

    def __init__(self, route: Route, known_hosts: Path, prompts: SshPrompts, environ: Mapping[str, str]) -> None:
        self.route = route
        self.known_hosts = known_hosts
        self.prompts = prompts
        self.auth = Authenticator(prompts, environ)
        self.environ = environ
        self.transports: list[paramiko.Transport] = []
        self.lost_reason: str | None = None
        self._stop = threading.Event()
        self._last_answer = time.monotonic()
        self._threads: list[threading.Thread] = []

    # -- connecting ------------------------------------------------------------------------
    def connect(self) -> None:
        via: paramiko.Transport | None = None
        by_password: list[tuple[Hop, paramiko.Transport]] = []
        try:
            for hop in self.route.hops:
                via = self._open_hop(hop, via, by_password)
                self.transports.append(via)
        except BaseException:
            self.close()
            raise
        self._start_watchdog()
        for hop, transport in by_password:
            self._offer_key(hop, transport)

    def _offer_key(self, hop: Hop, transport: paramiko.Transport) -> None:
        """A password got us in: offer to install the user's public key so the next login needs none
        (a new pair when the laptop has none)."""
        key = find_public_key(hop, self.environ)
        offer = KeyOffer(hop, key) if key is not None else new_key_offer(hop)
        if offer is None:
            self.prompts.no_key_offer(hop, why_no_offer(hop))
            return
        if not self.prompts.offer_key_install(offer):
            return
        try:
            save_new_key(offer)
            added = install_public_key(transport, offer.key)
        except KeyInstallError as exc:
            self.prompts.key_install_done(offer, False, str(exc))
            return
        self.prompts.key_install_done(offer, added, None)

    def _socket(self, hop: Hop, via: paramiko.Transport | None) -> _Sock:
        dead_after = hop.alive_interval_s * hop.alive_count
        if via is not None:
            try:
                return via.open_channel("direct-tcpip", (hop.hostname, hop.port), ("127.0.0.1", 0),
                                        timeout=hop.connect_timeout_s)
            except (paramiko.SSHException, OSError) as exc:
                raise SshError("the jump host could not reach %s:%d (%s)" % (hop.hostname, hop.port, exc)) from exc
        if hop.proxy_command:
            return paramiko.ProxyCommand(hop.proxy_command)
        try:
            sock = dial(hop.hostname, hop.port, hop.connect_timeout_s)
        except OSError as exc:
            raise SshError("cannot reach %s:%d (%s); is the device on and on the network?"
                           % (hop.hostname, hop.port, exc.strerror or exc)) from exc
        _tune_socket(sock, dead_after)
        return sock

    def _open_hop(self, hop: Hop, via: paramiko.Transport | None,
                  by_password: list[tuple[Hop, paramiko.Transport]]) -> paramiko.Transport:
        transport = paramiko.Transport(self._socket(hop, via))
        try:
            store = HostKeyStore(self.known_hosts, [Path(p) for p in hop.known_hosts_files])
            options = transport.get_security_options()
            offered = list(options.ciphers)
            options.ciphers = [c for c in FAST_CIPHERS if c in offered] + [c for c in offered if c not in FAST_CIPHERS]
            options.key_types = store.preferred_algorithms(hop.host_key_name, list(options.key_types))
            transport.use_compression(False)
            try:
                transport.start_client(timeout=hop.connect_timeout_s)
            except (paramiko.SSHException, EOFError, OSError) as exc:
                raise SshError("SSH handshake with %s failed: %s"
                               % (hop.describe(), exc or type(exc).__name__)) from exc
            self._verify(store, hop, transport.get_remote_server_key())
            if self.auth.login(transport, hop) == "password":
                by_password.append((hop, transport))
        except BaseException:
            transport.close()
            raise
        return transport

    def _verify(self, store: HostKeyStore, hop: Hop, key: paramiko.PKey) -> None:
        try:
            store.check(hop.host_key_name, key)
        except UnknownHostKey as unknown:
            if not self.prompts.confirm_host_key(unknown):
                raise
            store.trust(hop.host_key_name, key)
        except HostKeyChanged as changed:
            self.prompts.host_key_changed(changed)
            raise

    # -- keepalives ------------------------------------------------------------------------
    def _start_watchdog(self) -> None:
        self._last_answer = time.monotonic()
        for target in (self._probe, self._watch):
            thread = threading.Thread(target=target, name="ssh-%s" % target.__name__.strip("_"), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _probe(self) -> None:
        transport = self.transports[-1]
        interval = self.route.target.alive_interval_s
        while not self._stop.wait(interval) and transport.is_active():
            try:
                transport.global_request(KEEPALIVE_REQUEST, wait=True)  # any answer, even "unsupported", is life
            except (EOFError, OSError, paramiko.SSHException):
                return  # the link died under the probe: the watchdog reports it
            if transport.is_active():
                self._last_answer = time.monotonic()

    def _watch(self) -> None:
        target = self.route.target
        # As OpenSSH: ServerAliveCountMax probes in a row unanswered end the connection, so a dead
        # link is noticed interval * count seconds after the last answer (9 s by default), checked
        # often enough not to add a second to that.
        limit = target.alive_interval_s * target.alive_count
        while not self._stop.wait(min(0.25, target.alive_interval_s / 4)):
            if not self.is_active():
                if self.lost_reason is None:
                    self.lost_reason = "the SSH connection to %s was closed" % target.describe()
                return
            silent = time.monotonic() - self._last_answer
            if silent > limit:
                self.lost_reason = "%s did not answer keepalives for %.0f s: the link is down" % (
                    target.describe(), silent)
                self._close_transports()
                return

    # -- using it --------------------------------------------------------------------------
    def is_active(self) -> bool:
        return bool(self.transports) and all(t.is_active() for t in self.transports)

    def exec(self, command: str) -> paramiko.Channel:
        """A new exec channel running ``command``; no pty, no agent forwarding, no X11."""
        if not self.is_active():
            raise SshError(self.lost_reason or "not connected")
        try:
            channel = self.transports[-1].open_session(timeout=self.route.target.connect_timeout_s)
            channel.exec_command(command)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise SshError("cannot start a command on %s: %s" % (self.route.target.describe(), exc)) from exc
        return channel

    def run(self, command: str, timeout_s: float = 60.0) -> RunResult:
        """Run a short command and collect its output (kept small: a hash, a version, a path)."""
        channel = self.exec(command)
        channel.settimeout(timeout_s)
        channel.shutdown_write()
        try:
            out = b"".join(iter(lambda: channel.recv(65536), b""))
            err = b"".join(iter(lambda: channel.recv_stderr(65536), b""))
            code = channel.recv_exit_status()
        except TimeoutError as exc:
            raise SshError("%r on %s did not finish within %.0f s" % (command, self.route.target.describe(),
                                                                      timeout_s)) from exc
        finally:
            channel.close()
        return RunResult(code, out, err)

    def sftp(self) -> paramiko.SFTPClient:
        if not self.is_active():
            raise SshError(self.lost_reason or "not connected")
        client = paramiko.SFTPClient.from_transport(self.transports[-1], window_size=SFTP_WINDOW)
        if client is None:
            raise SshError("the device refused the SFTP subsystem; enable it in its sshd_config")
        return client

    def _close_transports(self) -> None:
        for transport in reversed(self.transports):
            transport.close()

    def close(self) -> None:
        self._stop.set()
        self._close_transports()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        self._threads.clear()
