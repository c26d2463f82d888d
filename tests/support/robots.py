"""A robot behind a real sshd with a chosen system Python, for the preflight and install tests."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from console.core.devices.session import DeviceSession, make_transport
from console.core.env import ConsoleEnv
from console.core.install.wheelhouse import WheelhouseCache, WheelTarget
from console.core.settings import DeviceEntry
from tests.support.ssh import SshServer, SshWorld

SYSTEM_PYTHON = "/usr/bin/python3"


@dataclass
class Robot:
    """A robot reached over a real sshd: its own HOME and XDG dirs, a PATH without this repo's runtime."""

    world: SshWorld
    server: SshServer
    home: Path

    def entry(self, **kw: object) -> DeviceEntry:
        fields: dict[str, object] = {"runtime": None, "python": SYSTEM_PYTHON}
        fields.update(kw)
        return self.world.entry("robot", self.server, **fields)

    @property
    def data_home(self) -> Path:
        return self.server.remote_data_dir


def start_robot(ssh_world: SshWorld, short_tmp: Path) -> Robot:
    """An sshd for the robot; ``ssh_world`` stops it and its daemon at the end."""
    home = short_tmp / "rhome"
    home.mkdir()
    server = SshServer(short_tmp / "sshd-robot")
    server.extra = ["SetEnv HOME=%s XDG_RUNTIME_DIR=%s XDG_DATA_HOME=%s PATH=/usr/bin:/bin"
                    % (home, server.remote_runtime_dir, server.remote_data_dir)]
    server.authorize(ssh_world.client_key.with_suffix(".pub"))
    server.start()
    ssh_world.servers.append(server)  # the fixture stops it and its daemon
    ssh_world.trust(server)
    return Robot(ssh_world, server, home)


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheelhouse for this machine's system Python, prepared the way the console prepares one."""
    data = tmp_path_factory.mktemp("console-data")
    env = ConsoleEnv(config_dir=data / "cfg", data_dir=data, runtime_dir=data / "run",
                     environ={"HOME": str(data), "PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    lines: list[str] = []
    path = WheelhouseCache(env).prepare(_system_target(), lines.append)
    assert any("downloading" in line for line in lines)
    assert json.loads((path / "wheelhouse.json").read_text())["target"] == _system_target().key
    return path


def _handshake(robot: Robot, entry: DeviceEntry) -> str:
    session = DeviceSession(entry, make_transport(entry, robot.world.env), robot.world.env.clock)
    try:
        session.connect()
        return session.runtime_version or ""
    finally:
        session.close()


def _system_target() -> WheelTarget:
    out = subprocess.run([SYSTEM_PYTHON, "-c", "import os, platform, sys; print(platform.machine(), "
                          "'%d.%d' % sys.version_info[:2], os.confstr('CS_GNU_LIBC_VERSION').split()[1])"],
                         capture_output=True, text=True, check=True).stdout.split()
    major, minor = out[2].split(".")[:2]
    return WheelTarget(out[0], out[1], (int(major), int(minor)))
