"""Install runtime over a real sshd as a user who may administer the robot (root here, as the CI
machine runs): a system install into /opt/edge-runtime with the `edge-runtime` service user, the
daemon running as that user, the handshake through the system socket, an upgrade that replaces
the running daemon, and the uninstall that removes it all.

The machine has no running systemd, so the install starts the daemon as `edge-runtime` itself
(the fallback install.sh takes without systemd) and writes the unit for the next boot; where
systemd runs, the same script enables and starts the unit instead. As a user who is not root the
account and service user cannot be made, and the test says so instead of passing.
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from console import __version__ as console_version
from console.core.install_runtime import INSTALLED, UPGRADED, InstallOptions, RuntimeInstaller
from device_runtime.paths import SYSTEM_ROOT, SYSTEM_SOCKET
from tests.installers.conftest import system_daemons
from tests.ssh.conftest import SshWorld
from tests.ssh.test_install_runtime import _handshake, wheelhouse  # noqa: F401  (a session fixture)
from tests.ssh.test_preflight import Robot, start_robot

REPO = Path(__file__).resolve().parents[2]
PREFIX = Path("/opt/edge-runtime")
UNIT = Path("/etc/systemd/system/edge-runtime.service")
pytestmark = pytest.mark.timeout(900)


def _exists(name: str, db: object) -> bool:
    try:
        db.getpwnam(name) if db is pwd else grp.getgrnam(name)  # type: ignore[attr-defined]
    except KeyError:
        return False
    return True


def _uninstall() -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(REPO / "installers" / "device" / "uninstall.sh"), "--purge"],
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def system_robot(ssh_world: SshWorld, short_tmp: Path) -> Iterator[Robot]:
    if os.geteuid() != 0:
        pytest.skip("a system install makes the edge-runtime service user and writes /opt: it needs root")
    if PREFIX.exists() or Path(SYSTEM_ROOT).exists() or _exists("edge-runtime", pwd):
        pytest.skip("this machine already has a system edge-runtime; the test would replace it")
    robot = start_robot(ssh_world, short_tmp)
    try:
        yield robot
    finally:
        _uninstall()
        psutil.wait_procs(system_daemons(), timeout=20)


def test_system_install_runs_the_daemon_as_its_own_user_and_upgrades_and_uninstalls(
        system_robot: Robot, wheelhouse: Path) -> None:  # noqa: F811
    entry = system_robot.entry()
    installer = RuntimeInstaller(system_robot.world.env, entry)
    try:
        pre = installer.preflight(InstallOptions())
        assert pre.facts.can_sudo and "system install" in pre.check("sudo").sentence
        result = installer.install(InstallOptions(wheelhouse=wheelhouse))
    finally:
        installer.close()
    assert result.outcome == INSTALLED and result.mode == "system" and result.prefix == str(PREFIX)
    assert entry.runtime == str(PREFIX / "bin" / "edge-runtime") and result.runtime_version == console_version
    systemd = Path("/run/systemd/system").is_dir()
    assert ("is running" if systemd else "started the runtime as edge-runtime") in result.service, result.service
    # The hardened unit is in place for a boot with systemd, rendered with this prefix and state.
    unit = UNIT.read_text()
    assert "ExecStart=%s/bin/edge-runtime serve --socket %s --root %s" % (PREFIX, SYSTEM_SOCKET, SYSTEM_ROOT) in unit
    (daemon,) = system_daemons()
    assert daemon.username() == "edge-runtime"  # never root
    assert oct(os.stat(SYSTEM_SOCKET).st_mode & 0o777) == "0o660"
    state = os.stat(SYSTEM_ROOT)
    assert pwd.getpwuid(state.st_uid).pw_name == "edge-runtime" and state.st_mode & 0o007 == 0
    assert _handshake(system_robot, entry) == console_version  # through the system socket

    # An upgrade builds a new environment and replaces the running daemon with the new one.
    upgrade = RuntimeInstaller(system_robot.world.env, entry)
    try:
        upgraded = upgrade.install(InstallOptions(wheelhouse=wheelhouse, upgrade=True))
    finally:
        upgrade.close()
    assert upgraded.outcome == UPGRADED and upgraded.mode == "system"
    daemon.wait(20)  # the old daemon was stopped ...
    (new,) = system_daemons()  # ... and exactly one new one serves the socket
    assert new.pid != daemon.pid and new.username() == "edge-runtime"
    assert _handshake(system_robot, entry) == console_version

    removed = _uninstall()
    assert removed.returncode == 0, removed.stderr
    new.wait(20)
    assert not PREFIX.exists() and not Path(SYSTEM_ROOT).exists() and not UNIT.exists()
    assert not _exists("edge-runtime", pwd) and not _exists("edge-runtime", grp)
