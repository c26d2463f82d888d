"""``edge-runtime bridge``: relays stdin/stdout to the daemon's socket.

The console runs this over an SSH exec channel (or as a local subprocess). If no daemon
is listening, it starts a user daemon and waits for its ready line, as VS Code's remote
server does.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import threading
from typing import List, Optional

from device_runtime.paths import UnsafePath, check_socket, peer_uid, private_dir, read_pid, trusted_owners
from device_runtime.process import python_command

READY_LINE = b"edge-runtime ready\n"
START_TIMEOUT_S = 60.0  # a busy small board can take many seconds to import and probe its hardware


class BridgeError(Exception):
    pass


def connect(socket_path: str) -> Optional[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(socket_path)
    except OSError:
        sock.close()
        return None
    return sock


def start_daemon(socket_path: str, root: str, extra: List[str], timeout_s: float = START_TIMEOUT_S) -> None:
    """Start ``edge-runtime serve`` detached and wait for its ready line on a pipe."""
    os.makedirs(os.path.join(root, "logs"), exist_ok=True)
    read_fd, write_fd = os.pipe()
    log_path = os.path.join(root, "logs", "daemon.log")
    with open(log_path, "ab") as log_file:
        proc = subprocess.Popen(
            [*python_command(), "-m", "device_runtime", "serve", "--socket", socket_path, "--root", root,
             "--ready-fd", str(write_fd), *extra],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            pass_fds=(write_fd,),
            start_new_session=True,
            close_fds=True,
        )
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], timeout_s)
        line = os.read(read_fd, 64) if ready else b""
    finally:
        os.close(read_fd)
    if line == READY_LINE:
        return
    code = proc.poll()
    if code is not None and read_pid(socket_path):
        return  # lost a start race to another daemon, which now serves the socket
    raise BridgeError(
        "the edge-runtime daemon did not start (%s); see %s"
        % ("exit code %s" % code if code is not None else "no ready line within %.0f s" % timeout_s, log_path)
    )


def connect_trusted(socket_path: str) -> Optional[socket.socket]:
    """Connect only to a daemon this user can trust: the socket and its directories belong to
    this user, root or the runtime's account, and so does the process that accepted."""
    owners = trusted_owners(os.geteuid())
    try:
        check_socket(socket_path, owners)
    except UnsafePath as exc:
        raise BridgeError(str(exc)) from None
    sock = connect(socket_path)
    if sock is not None:
        uid = peer_uid(sock)
        if uid not in owners:
            sock.close()
            raise BridgeError("the process serving %s runs as uid %d, not as this user or the runtime's account: "
                              "it is not this device's runtime; remove the socket" % (socket_path, uid))
    return sock


def open_daemon(socket_path: str, root: str, autostart: bool, extra: List[str]) -> socket.socket:
    sock = connect_trusted(socket_path)
    if sock is not None:
        return sock
    if not autostart:
        raise BridgeError("no edge-runtime daemon is listening on %s" % socket_path)
    try:
        private_dir(os.path.dirname(socket_path) or ".", os.geteuid())
    except UnsafePath as exc:
        raise BridgeError("cannot start a daemon: %s" % exc) from None
    start_daemon(socket_path, root, extra)
    sock = connect_trusted(socket_path)
    if sock is None:
        raise BridgeError("the daemon started but %s does not accept connections" % socket_path)
    return sock


def relay(sock: socket.socket, stdin_fd: int, stdout_fd: int) -> int:
    """Copy bytes both ways until either side closes. Returns an exit code."""

    def upstream() -> None:
        try:
            while True:
                data = os.read(stdin_fd, 65536)
                if not data:
                    break
                sock.sendall(data)
        except OSError:
            pass
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    thread = threading.Thread(target=upstream, name="bridge-upstream", daemon=True)
    thread.start()
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            view = memoryview(data)
            while view:
                written = os.write(stdout_fd, view)
                view = view[written:]
    except OSError:
        return 1
    finally:
        sock.close()
    return 0
