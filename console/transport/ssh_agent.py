"""An ssh-agent reached through the socket the console's environment names.

paramiko's own ``Agent`` reads ``SSH_AUTH_SOCK`` from ``os.environ``; the console resolves all
process I/O on its environment object instead, so tests never touch the developer's agent.
"""

from __future__ import annotations

import socket

import paramiko


class SocketAgent(paramiko.agent.AgentSSH):
    """The agent at ``path``; raises OSError when nothing listens there."""

    def __init__(self, path: str) -> None:
        super().__init__()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
        except OSError:
            sock.close()
            raise
        # paramiko's socket-taking hook is private (and unstubbed); its public Agent only reads os.environ.
        self._connect(sock)  # type: ignore[attr-defined]

    def close(self) -> None:
        self._close()  # type: ignore[attr-defined]
