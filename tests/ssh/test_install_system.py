"""Install runtime over a real sshd as a user who may administer the robot (root, and a fresh
account with passwordless sudo, as a Jetson's default user has): a system install into
/opt/edge-runtime with the `edge-runtime` service user, the daemon running as that user, the
handshake through the system socket (for the admin, through the edge-runtime group), an upgrade
that replaces the running daemon, and the uninstall that removes it all.

The machine has no running systemd, so the install starts the daemon as `edge-runtime` itself
(the fallback install.sh takes without systemd) and writes the unit for the next boot; where
systemd runs, the same script enables and starts the unit instead. As a user who is not root the
account and service user cannot be made, and the test says so instead of passing.
"""

from __future__ import annotations

import grp
import os
import pwd
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from console import __version__ as console_version
from console.core.devices.session import DeviceSession, make_transport
from console.core.install.runtime import INSTALLED, UPGRADED, InstallOptions, RuntimeInstaller
from device_runtime.paths import SYSTEM_ROOT, SYSTEM_SOCKET
from device_runtime.protocol import Empty, TelemetryTable
from tests.support.installers import remove_system_install, system_daemons, system_install_slot
from tests.support.robots import SYSTEM_PYTHON, Robot, _handshake, start_robot
from tests.support.ssh import SshServer, SshWorld

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
    with system_install_slot():
        yield start_robot(ssh_world, short_tmp)


def test_system_install_runs_the_daemon_as_its_own_user_and_upgrades_and_uninstalls(
        system_robot: Robot, wheelhouse: Path) -> None:
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


@pytest.fixture
def admin(ssh_world: SshWorld, short_tmp: Path) -> Iterator[tuple[str, SshServer]]:
    """A fresh account with its own home and passwordless sudo, reached by key over its own sshd."""
    with system_install_slot():
        yield from _admin(ssh_world, short_tmp)


def _admin(ssh_world: SshWorld, short_tmp: Path) -> Iterator[tuple[str, SshServer]]:
    name = "eoc%s" % secrets.token_hex(4)
    sudoers = Path("/etc/sudoers.d/%s" % name)
    # "*": no password works, yet the account is not locked (sshd refuses locked ones even by key).
    subprocess.run(["useradd", "-m", "-s", "/bin/bash", "-p", "*", name], check=True, capture_output=True, timeout=30)
    try:
        home = Path(pwd.getpwnam(name).pw_dir)
        ssh_dir = home / ".ssh"
        ssh_dir.mkdir(mode=0o700)
        (ssh_dir / "authorized_keys").write_text(ssh_world.client_key.with_suffix(".pub").read_text())
        subprocess.run(["chown", "-R", "%s:%s" % (name, name), str(ssh_dir)], check=True, timeout=30)
        sudoers.write_text("%s ALL=(ALL) NOPASSWD:ALL\n" % name)
        sudoers.chmod(0o440)
        server = SshServer(short_tmp / "sshd-admin")
        # The account's own authorized_keys and a login PATH, as on a robot (first values win).
        server.extra = ["AuthorizedKeysFile .ssh/authorized_keys", "SetEnv PATH=/usr/local/bin:/usr/bin:/bin"]
        server.start()
        ssh_world.servers.append(server)
        ssh_world.trust(server)
        yield name, server
    finally:
        remove_system_install()
        uid = pwd.getpwnam(name).pw_uid
        psutil.wait_procs([p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == uid],
                          timeout=15)
        subprocess.run(["userdel", "-rf", name], capture_output=True, timeout=30, check=False)
        sudoers.unlink(missing_ok=True)


def test_an_admin_with_sudo_gets_a_system_install_and_reaches_it_through_the_group(
        admin: tuple[str, SshServer], ssh_world: SshWorld, wheelhouse: Path) -> None:
    name, server = admin
    entry = ssh_world.entry("jetson", server, user=name, runtime=None, python=SYSTEM_PYTHON)
    said: list[str] = []
    installer = RuntimeInstaller(ssh_world.env, entry, progress=lambda p: said.append(p.text))
    try:
        pre = installer.preflight(InstallOptions())
        assert pre.facts.get("sudo") == "yes" and "sudo without a password" in pre.check("sudo").sentence
        result = installer.install(InstallOptions(wheelhouse=wheelhouse))
    finally:
        installer.close()
    assert result.outcome == INSTALLED and result.mode == "system" and result.prefix == str(PREFIX)
    assert any("joined the edge-runtime group" in text for text in said), said
    assert name in grp.getgrnam("edge-runtime").gr_mem
    (daemon,) = system_daemons()
    assert daemon.username() == "edge-runtime"
    # The admin is not root: it reaches the 0660 socket through the group its new login carries.
    session = DeviceSession(entry, make_transport(entry, ssh_world.env), ssh_world.env.clock)
    try:
        session.connect()
        assert session.runtime_version == console_version
        table = session.request("telemetry.describe", Empty())
        assert isinstance(table, TelemetryTable) and table.metrics
    finally:
        session.close()
