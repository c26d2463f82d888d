"""Install runtime over a real sshd into a clean user account: user install with a user unit,
handshake through the installed bridge, reinstall and upgrade, a failed install that keeps the
previous runtime, an older runtime upgraded by ``edgectl install``, and the offline laptop."""

from __future__ import annotations

import io
import json
import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from console import __version__ as console_version
from console.cli.main import main
from console.core.devices.registry import DeviceRegistry
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from console.core.install.runtime import CURRENT, INSTALLED, UPGRADED, InstallError, InstallOptions, RuntimeInstaller
from console.core.install.wheelhouse import WheelhouseCache, WheelhouseError, WheelTarget
from console.ui.devices.install_dialog import InstallDialog
from tests.support.robots import SYSTEM_PYTHON, Robot, _handshake, _system_target, start_robot
from tests.support.ssh import SshWorld, free_port

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(900)  # builds a wheelhouse and installs it, several times


@pytest.fixture
def robot(ssh_world: SshWorld, short_tmp: Path) -> Robot:
    return start_robot(ssh_world, short_tmp)


def _venv_target(prefix: Path) -> str:
    return os.path.realpath(prefix / "venv")


def test_user_install_handshake_reinstall_and_upgrade(robot: Robot, wheelhouse: Path) -> None:
    entry = robot.entry()
    stages: list[str] = []
    installer = RuntimeInstaller(robot.world.env, entry, progress=lambda p: stages.append(p.stage))
    try:
        result = installer.install(InstallOptions(force_user=True, wheelhouse=wheelhouse))
    finally:
        installer.close()
    prefix = robot.data_home / "edge-runtime"
    assert result.outcome == INSTALLED and result.mode == "user" and result.prefix == str(prefix)
    assert result.runtime_version == console_version and result.previous_version is None
    assert entry.runtime == str(prefix / "bin" / "edge-runtime")
    assert [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s] == [
        "preflight", "wheelhouse", "upload", "install", "handshake"]
    # No user systemd runs here: the unit is written, not started, and the install says so.
    assert "no user systemd" in result.service
    unit = robot.home / ".config" / "systemd" / "user" / "edge-runtime.service"
    text = unit.read_text()
    assert "ExecStart=%s/bin/edge-runtime serve" % prefix in text and "--root %s" % prefix in text
    assert "User=" not in text and "WantedBy=default.target" in text
    verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False)
    assert verify.returncode == 0, verify.stderr
    assert "include-system-site-packages = true" in (Path(_venv_target(prefix)) / "pyvenv.cfg").read_text()
    assert _handshake(robot, entry) == console_version

    # Same version again: nothing is installed, the entry still points at it.
    first = _venv_target(prefix)
    again = RuntimeInstaller(robot.world.env, robot.entry())
    try:
        current = again.install(InstallOptions(force_user=True, wheelhouse=wheelhouse))
    finally:
        again.close()
    assert current.outcome == CURRENT and _venv_target(prefix) == first

    # --upgrade reinstalls into a new environment, sends nothing twice, and the new one answers.
    said: list[str] = []
    upgrade = RuntimeInstaller(robot.world.env, entry, progress=lambda p: said.append(p.text))
    try:
        upgraded = upgrade.install(InstallOptions(force_user=True, wheelhouse=wheelhouse, upgrade=True))
    finally:
        upgrade.close()
    assert upgraded.outcome == UPGRADED and upgraded.previous_version == console_version
    assert _venv_target(prefix) != first and Path(first).is_dir()  # the previous env is kept for a step back
    assert any(text.startswith("uploaded 0 files") for text in said), said
    assert _handshake(robot, entry) == console_version


def test_a_failed_install_keeps_the_previous_runtime(robot: Robot, wheelhouse: Path, short_tmp: Path) -> None:
    entry = robot.entry()
    installer = RuntimeInstaller(robot.world.env, entry)
    try:
        installer.install(InstallOptions(force_user=True, wheelhouse=wheelhouse))
        prefix = robot.data_home / "edge-runtime"
        working = _venv_target(prefix)
        broken = short_tmp / "broken-wheelhouse"
        shutil.copytree(wheelhouse, broken, ignore=shutil.ignore_patterns("numpy-*"))
        with pytest.raises(InstallError) as caught:
            installer.install(InstallOptions(force_user=True, wheelhouse=broken, upgrade=True))
    finally:
        installer.close()
    message = str(caught.value)
    assert caught.value.stage == "install"
    assert "numpy" in message, message  # pip's own words: no matching distribution for numpy
    assert "The previous runtime %s in %s still works" % (console_version, prefix) in message
    assert _venv_target(prefix) == working
    assert _handshake(robot, entry) == console_version


def _old_wheelhouse(wheelhouse: Path, work: Path, version: str) -> Path:
    """The same wheelhouse with the runtime wheel of an older release, built from this source."""
    src = work / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("console", "device_runtime"):
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).exists():
            shutil.copy2(REPO / name, src / name)
    for path, old in ((src / "pyproject.toml", 'version = "%s"'), (src / "device_runtime" / "__init__.py",
                                                                   '__version__ = "%s"')):
        text = path.read_text()
        assert old % console_version in text
        path.write_text(text.replace(old % console_version, old % version))
    out = work / "wheels"
    shutil.copytree(wheelhouse, out, ignore=shutil.ignore_patterns("edge_operator_console-*"))
    subprocess.run([SYSTEM_PYTHON, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", str(out), str(src)],
                   check=True, capture_output=True, env={"PATH": "/usr/bin:/bin", "HOME": str(work)})
    return out


def _edgectl(env: ConsoleEnv, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    env.stdout, env.stderr = out, err
    return main(list(argv), env), out.getvalue(), err.getvalue()


def test_edgectl_install_offers_then_does_the_upgrade(robot: Robot, wheelhouse: Path, short_tmp: Path) -> None:
    # An older runtime installed by hand, the way a technician would with install.sh.
    old = _old_wheelhouse(wheelhouse, short_tmp / "old", "0.0.9")
    prefix = robot.data_home / "edge-runtime"
    subprocess.run(["bash", str(REPO / "installers" / "device" / "install.sh"), "--wheels", str(old),
                    "--prefix", str(prefix), "--state", str(prefix), "--no-service"],
                   env={"PATH": "/usr/bin:/bin", "PYTHON": SYSTEM_PYTHON, "HOME": str(robot.home)},
                   check=True, capture_output=True)
    env = robot.world.env
    # The device is registered; the laptop's cache already holds this platform's wheelhouse.
    DeviceRegistry(env).add(robot.entry())
    shutil.copytree(wheelhouse, env.data_dir / "wheelhouses" / _system_target().key)

    code, out, err = _edgectl(env, "--device", "robot", "preflight", "--user-install", "--json")
    assert code == ExitCode.OK, err
    checks = {c["key"]: c for c in json.loads(out)["checks"]}
    assert checks["runtime"]["status"] == "warn" and "0.0.9" in checks["runtime"]["sentence"]

    code, out, err = _edgectl(env, "--device", "robot", "install", "--user-install")
    assert code == ExitCode.ERROR, out + err
    assert "runtime 0.0.9" in out + err and "--upgrade" in out + err
    assert "0.0.9" in subprocess.run([str(prefix / "bin" / "edge-runtime"), "--version"], capture_output=True,
                                     text=True, check=True).stdout

    code, out, err = _edgectl(env, "--device", "robot", "install", "--user-install", "--upgrade", "--json")
    assert code == ExitCode.OK, out + err
    lines = [json.loads(line) for line in out.splitlines()]
    assert any(line.get("stage") == "upload" for line in lines)
    result = lines[-1]["result"]
    assert result["outcome"] == UPGRADED and result["previous_version"] == "0.0.9"
    assert result["runtime_version"] == console_version
    # The registered entry now points at the installed runtime, and status reaches it.
    saved = json.loads(env.settings_path.read_text())["devices"]
    assert next(d for d in saved if d["name"] == "robot")["runtime"] == str(prefix / "bin" / "edge-runtime")
    code, out, err = _edgectl(env, "--device", "robot", "status", "--json")
    assert code == ExitCode.OK and json.loads(out)["runtime_version"] == console_version, err


def test_an_offline_laptop_without_a_cache_says_so(short_tmp: Path) -> None:
    closed = free_port()
    env = ConsoleEnv(config_dir=short_tmp / "cfg", data_dir=short_tmp / "data", runtime_dir=short_tmp / "run",
                     environ={"HOME": str(short_tmp), "PATH": "/usr/bin:/bin", "PIP_CONFIG_FILE": os.devnull,
                              "PIP_INDEX_URL": "http://127.0.0.1:%d/simple" % closed, "PIP_FIND_LINKS": "",
                              "PIP_RETRIES": "1", "PIP_TIMEOUT": "5"})
    target = WheelTarget("aarch64", "3.10", (2, 35))
    with pytest.raises(WheelhouseError) as caught:
        WheelhouseCache(env).prepare(target)
    message = str(caught.value)
    assert "offline" in message and "no cached wheelhouse for Python 3.10 on manylinux_2_35_aarch64" in message
    assert "--wheelhouse DIR" in message
    assert not (env.data_dir / "wheelhouses" / target.key).exists()


@pytest.mark.gui
def test_install_dialog_shows_the_verdict_then_installs(qtbot: QtBot, robot: Robot, wheelhouse: Path) -> None:
    entry = robot.entry()
    dialog = InstallDialog(robot.world.env, entry, options=InstallOptions(force_user=True, wheelhouse=wheelhouse))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.start()
    qtbot.waitUntil(lambda: dialog.preflight is not None, timeout=60_000)
    texts = [dialog.checks.item(i).text() for i in range(dialog.checks.count())]
    assert texts[0] == "OK  Architecture: %s" % platform.machine()
    assert any(t.startswith("WARN  TensorRT bindings") or t.startswith("OK  TensorRT bindings") for t in texts)
    assert dialog.heading.text() == "Ready to install." and dialog.user_install.isChecked()
    assert not robot.data_home.exists()  # nothing is installed before the press
    qtbot.mouseClick(dialog.install_button, Qt.MouseButton.LeftButton)
    assert not dialog.close_button.isEnabled() and dialog.bar.isVisible()
    qtbot.waitUntil(lambda: dialog.install_result is not None or bool(dialog.error), timeout=600_000)
    assert dialog.install_result is not None and dialog.install_result.outcome == INSTALLED, dialog.error
    assert dialog.outcome.text().startswith("Runtime %s installed on robot (user install" % console_version)
    assert "[handshake]" in dialog.log.toPlainText() and dialog.bar.value() == 100
    assert dialog.close_button.isEnabled()
    assert entry.runtime == str(robot.data_home / "edge-runtime" / "bin" / "edge-runtime")
    dialog.close_button.click()


@pytest.mark.gui
def test_install_dialog_keeps_install_off_when_the_preflight_fails(qtbot: QtBot, robot: Robot) -> None:
    dialog = InstallDialog(robot.world.env, robot.entry(python="/usr/bin/python2.1"),
                           options=InstallOptions(force_user=True))
    qtbot.addWidget(dialog)
    dialog.start()
    qtbot.waitUntil(lambda: dialog.preflight is not None, timeout=60_000)
    assert not dialog.install_button.isEnabled()
    assert dialog.heading.text().startswith("Not ready: Python: /usr/bin/python2.1 is not on the device")
    fails = [dialog.checks.item(i).text() for i in range(dialog.checks.count())
             if dialog.checks.item(i).text().startswith("FAIL")]
    assert fails == ["FAIL  Python: /usr/bin/python2.1 is not on the device: install python3 (3.8 or newer)"]
    dialog.close_button.click()


def test_an_install_to_an_ssh_config_alias_is_found_afterwards(robot: Robot, wheelhouse: Path) -> None:
    env, server = robot.world.env, robot.server
    robot.world.write_ssh_config("Host lab-robot\n    HostName %s\n    Port %d\n    User %s\n    IdentityFile %s\n"
                                 % (server.address, server.port, env.local_user, robot.world.client_key))
    shutil.copytree(wheelhouse, env.data_dir / "wheelhouses" / _system_target().key)
    code, out, err = _edgectl(env, "--device", "lab-robot", "install", "--user-install", "--python", SYSTEM_PYTHON)
    assert code == ExitCode.OK, out + err
    runtime = str(robot.data_home / "edge-runtime" / "bin" / "edge-runtime")
    # Not a registered device, yet the install location is kept for that name...
    settings = json.loads(env.settings_path.read_text())
    assert settings["devices"] == [] and settings["runtimes"] == {"lab-robot": runtime}
    code, out, err = _edgectl(env, "--device", "lab-robot", "status", "--json")
    assert code == ExitCode.OK and json.loads(out)["runtime_version"] == console_version, err
    # ...and a console that never installed there finds the default user install by searching.
    env.settings_path.unlink()
    code, out, err = _edgectl(env, "--device", "lab-robot", "status", "--json")
    assert code == ExitCode.OK and json.loads(out)["runtime_version"] == console_version, err
