"""The device installers, run for real: install.sh into a fresh prefix from an offline
wheelhouse, the .deb on this machine, and the systemd unit checked by systemd-analyze."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psutil
import pytest

from device_runtime import protocol as p
from tests.support.installers import DEVICE, exposure, handshake_through_bridge, system_daemons, system_install_slot

# The rendered unit's exposure as `systemd-analyze security --offline=yes` rates it (0 best, 10
# worst). Measured 1.5 ("OK"); raising this needs a reason in the commit.
MAX_EXPOSURE = 2.0

pytestmark = pytest.mark.timeout(600)  # builds a wheelhouse and installs it, twice


def render_unit(tmp_path: Path, exec_path: str) -> Path:
    text = (DEVICE / "edge-runtime.service.in").read_text()
    unit = tmp_path / "edge-runtime.service"
    unit.write_text(text.replace("@EXEC@", exec_path).replace("@STATE@", "/var/lib/edge-runtime"))
    return unit


def test_systemd_accepts_the_unit_and_rates_it_low(tmp_path: Path) -> None:
    exe = tmp_path / "edge-runtime"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    unit = render_unit(tmp_path, str(exe))
    verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False)
    assert verify.returncode == 0, verify.stderr
    assert "edge-runtime.service" not in verify.stderr, verify.stderr  # no warnings about our unit
    security = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(unit)], capture_output=True, text=True, check=False
    )
    score = exposure(security.stdout)
    print("systemd-analyze security exposure: %.1f" % score)
    assert score <= MAX_EXPOSURE, security.stdout


def test_the_unit_names_every_hardening_the_issue_asks_for() -> None:
    text = (DEVICE / "edge-runtime.service.in").read_text()
    for line in (
        "User=edge-runtime", "Group=edge-runtime", "NoNewPrivileges=yes", "ProtectSystem=strict",
        "ReadWritePaths=@STATE@", "ProtectHome=yes", "PrivateTmp=yes", "Restart=on-failure",
        "StartLimitBurst=", "WatchdogSec=", "Type=notify", "StandardOutput=journal",
        "LimitNOFILE=65536", "TasksMax=", "MemoryMax=",
    ):
        assert line in text, line


def test_install_script_runs_offline_and_the_daemon_answers(wheelhouse: Path, clean_prefix: Path,
                                                             short_tmp: Path) -> None:
    subprocess.run(
        ["bash", str(DEVICE / "install.sh"), "--wheels", str(wheelhouse), "--prefix", str(clean_prefix),
         "--no-service"],
        env={"PATH": "/usr/bin:/bin", "PYTHON": "/usr/bin/python3", "HOME": str(short_tmp),
             "PIP_NO_INDEX": "1"},
        check=True, capture_output=True,
    )
    exe = clean_prefix / "bin" / "edge-runtime"
    first_env = os.path.realpath(clean_prefix / "venv")
    sock = short_tmp / "rt" / "rt.sock"
    welcome = handshake_through_bridge([str(exe), "bridge", "--socket", str(sock), "--root", str(short_tmp / "st")])
    try:
        assert welcome.protocol == p.PROTOCOL_VERSION and welcome.runtime_version
        # The environment sees system site packages (JetPack's tensorrt lives there).
        cfg = (Path(first_env) / "pyvenv.cfg").read_text()
        assert "include-system-site-packages = true" in cfg

        # A failed upgrade (a wheelhouse without the runtime) leaves the working runtime in place.
        empty = short_tmp / "empty"
        empty.mkdir()
        failed = subprocess.run(
            ["bash", str(DEVICE / "install.sh"), "--wheels", str(empty), "--prefix", str(clean_prefix),
             "--no-service"],
            env={"PATH": "/usr/bin:/bin", "PYTHON": "/usr/bin/python3", "HOME": str(short_tmp)},
            capture_output=True, text=True, check=False,
        )
        assert failed.returncode != 0
        assert "previous runtime" in failed.stderr and "unchanged" in failed.stderr
        assert os.path.realpath(clean_prefix / "venv") == first_env
        assert subprocess.run([str(exe), "--version"], capture_output=True, check=False).returncode == 0
    finally:
        subprocess.run([str(exe), "stop", "--socket", str(sock)], capture_output=True, check=False)

    # Uninstall keeps the model store unless asked.
    state = short_tmp / "state"
    (state / "models").mkdir(parents=True)
    out = subprocess.run(
        ["bash", str(DEVICE / "uninstall.sh"), "--prefix", str(clean_prefix), "--state", str(state)],
        env={"PATH": "/usr/bin:/bin", "UNIT_DIR": str(short_tmp / "units")}, capture_output=True, text=True,
        check=True,
    )
    assert "kept" in out.stdout and (state / "models").is_dir() and not clean_prefix.exists()


def user_exists(name: str) -> bool:
    return subprocess.run(["id", name], capture_output=True, check=False).returncode == 0


needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("dpkg") is None,
    reason="installing a .deb on this machine needs root and dpkg",
)


@needs_root
def test_deb_installs_starts_as_its_own_user_and_purges(wheelhouse: Path, tmp_path: Path) -> None:
    with system_install_slot():
        _deb_installs_starts_as_its_own_user_and_purges(wheelhouse, tmp_path)


def _deb_installs_starts_as_its_own_user_and_purges(wheelhouse: Path, tmp_path: Path) -> None:
    out = subprocess.run(
        ["bash", str(DEVICE / "build-deb.sh"), "--wheels", str(wheelhouse), "-o", str(tmp_path)],
        check=True, capture_output=True, text=True,
    )
    deb = out.stdout.strip().splitlines()[-1]
    info = subprocess.run(["dpkg-deb", "-f", deb, "Package", "Depends"], capture_output=True, text=True, check=True)
    assert "Package: edge-runtime" in info.stdout and "python3-venv" in info.stdout
    sock_dir = tmp_path
    try:
        installed = subprocess.run(["dpkg", "-i", deb], capture_output=True, text=True, check=False)
        assert installed.returncode == 0, installed.stdout + installed.stderr
        assert Path("/lib/systemd/system/edge-runtime.service").is_file()
        state = Path("/var/lib/edge-runtime")
        assert state.stat().st_mode & 0o777 == 0o750
        groups = subprocess.run(["id", "-nG", "edge-runtime"], capture_output=True, text=True, check=True).stdout
        assert "edge-runtime" in groups.split()
        if not Path("/run/systemd/system").is_dir():
            # No systemd here: the postinst started the daemon itself, as the service user.
            (daemon,) = system_daemons()
            assert daemon.username() == "edge-runtime" and "started the runtime as edge-runtime" in installed.stdout
        # The daemon started from the installed files, as its own user, completes a handshake.
        # pytest's temp dirs are private to root: give the service user its own socket directory.
        sock_dir = Path(tempfile.mkdtemp(prefix="eoc-deb-"))
        sock_dir.chmod(0o750)
        shutil.chown(sock_dir, "edge-runtime", "edge-runtime")
        sock = sock_dir / "rt.sock"
        welcome = handshake_through_bridge(
            ["runuser", "-u", "edge-runtime", "--", "/opt/edge-runtime/bin/edge-runtime", "bridge",
             "--socket", str(sock), "--root", str(state)]
        )
        assert welcome.runtime_version
        assert (sock.stat().st_mode & 0o777) == 0o660
        subprocess.run(["/opt/edge-runtime/bin/edge-runtime", "stop", "--socket", str(sock)], capture_output=True,
                       check=False)
    finally:
        subprocess.run(["dpkg", "--purge", "edge-runtime"], capture_output=True, check=False)
        shutil.rmtree(sock_dir, ignore_errors=True)
    assert not Path("/opt/edge-runtime/venv").exists()
    assert not Path("/var/lib/edge-runtime").exists()
    assert not user_exists("edge-runtime")
    assert psutil.wait_procs(system_daemons(), timeout=20)[1] == []  # the purge stopped the daemon
