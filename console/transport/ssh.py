"""The SSH transport: ``edge-runtime bridge`` on the device over one exec channel.

The connection is made lazily and reused: the protocol stream, SFTP uploads and short commands
share it. After a drop, :meth:`SshTransport.open` connects again from scratch, checking every host
key again, so a session's reconnect loop only has to call ``open``.
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import paramiko

from console.transport.base import DirectSink, Stream, Transport, TransportError
from console.transport.sftp_upload import SftpSink
from console.transport.ssh_config import Route
from console.transport.ssh_connection import SshConnection
from console.transport.ssh_prompts import SshPrompts

# Where an installed runtime lives, in the order they are tried when the device names none: the user
# install's default prefix (as the installer's preflight computes it), the system prefix, then a link.
RUNTIME_SEARCH = ("${XDG_DATA_HOME:-$HOME/.local/share}/edge-runtime/bin/edge-runtime",
                  "/opt/edge-runtime/bin/edge-runtime", "$HOME/.local/bin/edge-runtime")
NOT_INSTALLED_CODE = 127


def bridge_command(runtime: str | None) -> str:
    """The exec command line. ``sh -c`` so it works whatever the login shell is (fish, csh...)."""
    if runtime:
        return "%s bridge" % shlex.quote(runtime)
    script = (
        'for p in %s; do if [ -x "$p" ]; then exec "$p" bridge; fi; done; '
        "if command -v edge-runtime >/dev/null 2>&1; then exec edge-runtime bridge; fi; "
        'echo "edge-runtime is not installed on this device (looked in %s and PATH)" >&2; exit %d'
        % (" ".join('"%s"' % p for p in RUNTIME_SEARCH), ", ".join(RUNTIME_SEARCH), NOT_INSTALLED_CODE)
    )
    return "sh -c %s" % shlex.quote(script)


class ChannelStream(Stream):
    """An exec channel as the protocol client's byte stream."""

    def __init__(self, channel: paramiko.Channel, owner: SshTransport) -> None:
        self._channel = channel
        self._owner = owner
        self._lock = threading.Lock()

    def read(self, size: int) -> bytes:
        try:
            return self._channel.recv(size)
        except (OSError, EOFError, paramiko.SSHException):
            return b""

    def write(self, data: bytes) -> None:
        with self._lock:
            try:
                self._channel.sendall(data)
            except (OSError, EOFError, paramiko.SSHException) as exc:
                raise TransportError("the SSH link to %s is gone: %s" % (self._owner.describe(),
                                                                          self.diagnostics() or exc)) from exc

    def close(self) -> None:
        """Hang up the channel and the connection with it: the session owns the link."""
        self._channel.close()
        self._owner.close()

    def diagnostics(self) -> str:
        lines = []
        try:
            while self._channel.recv_stderr_ready():
                lines.append(self._channel.recv_stderr(65536).decode("utf-8", "replace"))
        except (OSError, EOFError):
            pass
        text = "".join(lines).strip()
        lost = self._owner.lost_reason()
        return "\n".join(part for part in (text, lost) if part)


class SshTransport(Transport):
    """Reaches one device over SSH. ``route`` is resolved again on every connect (the config may change)."""

    name = "ssh"

    def __init__(self, route: Callable[[], Route], known_hosts: Path, prompts: SshPrompts | None = None,
                 environ: Mapping[str, str] | None = None, runtime: str | None = None) -> None:
        self._route = route
        self.known_hosts = known_hosts
        self.prompts = prompts or SshPrompts()
        self.environ = dict(environ or {})
        self.runtime = runtime
        self._conn: SshConnection | None = None
        self._lock = threading.Lock()
        self._described: str | None = None

    def route(self) -> Route:
        """How the device is reached now, from the SSH config and the device's settings."""
        return self._route()

    def connection(self) -> SshConnection:
        """The live connection, made now if there is none or the last one died."""
        with self._lock:
            if self._conn is not None and self._conn.is_active():
                return self._conn
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            route = self._route()
            self._described = route.describe()
            conn = SshConnection(route, self.known_hosts, self.prompts, self.environ)
            try:
                conn.connect()
            except (OSError, EOFError, paramiko.SSHException) as exc:
                raise TransportError("SSH to %s failed: %s" % (self._described, exc)) from exc
            self._conn = conn
            return conn

    def open(self) -> Stream:
        conn = self.connection()
        return ChannelStream(conn.exec(bridge_command(self.runtime)), self)

    def lost_reason(self) -> str:
        conn = self._conn
        return (conn.lost_reason or "") if conn is not None else ""

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def describe(self) -> str:
        if self._described is None:
            try:
                self._described = self._route().describe()
            except TransportError:
                return "ssh"
        return self._described

    def direct_sink(self, part: str, offset: int) -> DirectSink | None:
        """Pipelined SFTP writes over the login's own connection."""
        return SftpSink(self.connection(), part, offset)

    def ssh_login(self) -> SshTransport:
        return self
