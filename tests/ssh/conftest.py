"""SSH test fixtures: a world of real OpenSSH servers (tests/support/ssh.py) per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.core.env import ConsoleEnv
from tests.support.daemons import stop_daemon
from tests.support.robots import wheelhouse  # noqa: F401 - a session fixture the install tests use by name
from tests.support.ssh import (
    SshServer,
    SshWorld,
    current_user,
    keygen,
    start_server,
)


@pytest.fixture
def ssh_world(short_tmp: Path) -> Iterator[SshWorld]:
    """One sshd that accepts the client key, and a console env whose HOME is a temp dir."""
    home = short_tmp / "home"
    home.mkdir()
    (home / ".ssh").mkdir(mode=0o700)
    client_key = keygen(short_tmp / "client_key")
    env = ConsoleEnv(config_dir=short_tmp / "cfg", data_dir=short_tmp / "data", runtime_dir=short_tmp / "run",
                     environ={"HOME": str(home), "USER": current_user(),
                              "PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    server = start_server(short_tmp / "sshd1", client_key.with_suffix(".pub"))
    world = SshWorld(env, home, client_key, [server])
    yield world
    for srv in world.servers:
        stop_daemon(srv.remote_socket)
        srv.stop()
    stop_daemon(env.local_socket)  # a window falls back to the built-in device when a robot is removed


@pytest.fixture
def second_server(ssh_world: SshWorld, short_tmp: Path) -> SshServer:
    """Another sshd (a bastion, or a robot behind one), same client key."""
    server = start_server(short_tmp / "sshd2", ssh_world.client_key.with_suffix(".pub"))
    ssh_world.servers.append(server)
    return server


