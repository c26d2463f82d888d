"""Runtime directories in a shared temp directory: the daemon and the bridge refuse a directory,
lock file or socket that another user made or could swap, saying why, and create their own 0700."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from device_runtime import paths

OTHER_UID = 65534  # nobody


def _serve(sock: Path, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "device_runtime", "serve", "--socket", str(sock), "--root",
                           str(root)], capture_output=True, text=True, timeout=60, check=False)


def _bridge(sock: Path, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "device_runtime", "bridge", "--socket", str(sock), "--root",
                           str(root)], input="", capture_output=True, text=True, timeout=60, check=False)


def _as_other_user(path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give a directory to another user (CI runs the tests as root)")
    os.chown(path, OTHER_UID, OTHER_UID)


def test_a_socket_directory_another_user_made_is_refused(short_tmp: Path) -> None:
    hijacked = short_tmp / "edge-runtime-1000"
    hijacked.mkdir(mode=0o700)
    _as_other_user(hijacked)
    for run in (_serve, _bridge):
        done = run(hijacked / "edge-runtime.sock", short_tmp / "root")
        assert done.returncode in (4, 5), done.stderr
        assert "belongs to uid %d" % OTHER_UID in done.stderr and "XDG_RUNTIME_DIR" in done.stderr
    assert list(hijacked.iterdir()) == []  # no socket, no lock file


def test_a_directory_others_can_write_is_refused_and_a_new_one_is_made_private(short_tmp: Path) -> None:
    shared = short_tmp / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    done = _serve(shared / "edge-runtime.sock", short_tmp / "root")
    assert done.returncode == 4 and "writable by others (mode 0777)" in done.stderr
    inside = shared / "mine"  # our own directory, but inside one that others could rename
    done = _serve(inside / "edge-runtime.sock", short_tmp / "root")
    assert done.returncode == 4 and "which others can write (mode 0777)" in done.stderr
    fresh = short_tmp / "fresh" / "rt"
    assert paths.private_dir(str(fresh), os.geteuid()) == str(fresh)
    assert fresh.stat().st_mode & 0o777 == 0o700


def test_a_planted_lock_symlink_is_refused_and_its_target_untouched(short_tmp: Path) -> None:
    run_dir = short_tmp / "rt"
    run_dir.mkdir(mode=0o700)
    victim = short_tmp / "victim.txt"
    victim.write_text("precious\n")
    (run_dir / "edge-runtime.sock.lock").symlink_to(victim)
    done = _serve(run_dir / "edge-runtime.sock", short_tmp / "root")
    assert done.returncode == 4 and "is a symbolic link" in done.stderr
    assert victim.read_text() == "precious\n"


def test_the_bridge_refuses_a_socket_another_user_owns(short_tmp: Path) -> None:
    run_dir = short_tmp / "rt"
    run_dir.mkdir(mode=0o700)
    fake = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    fake.bind(str(run_dir / "edge-runtime.sock"))
    fake.listen(1)
    try:
        _as_other_user(run_dir / "edge-runtime.sock")
        done = _bridge(run_dir / "edge-runtime.sock", short_tmp / "root")
        assert done.returncode == 5
        assert "belongs to uid %d" % OTHER_UID in done.stderr and "impersonating" in done.stderr
    finally:
        fake.close()
