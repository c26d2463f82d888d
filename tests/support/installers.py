"""The device installers under test: the repository's installer folder, the bridge handshake through an
installed runtime, and the one system-wide install slot the tests share."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from device_runtime import protocol as p
from device_runtime.paths import SYSTEM_SOCKET

REPO = Path(__file__).resolve().parents[2]


DEVICE = REPO / "installers" / "device"


SYSTEM_PYTHON = "/usr/bin/python3"


def system_python_problem() -> str | None:
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import venv, ensurepip, pip"], capture_output=True, text=True, check=False
    ) if Path(SYSTEM_PYTHON).exists() else None
    if probe is None or probe.returncode:
        return "the device installers need %s with venv and pip (python3-venv, python3-pip)" % SYSTEM_PYTHON
    return None


def handshake_through_bridge(command: list[str], timeout: float = 60.0) -> p.Welcome:
    """Run ``edge-runtime bridge`` (which starts the daemon if needed) and say hello over stdio."""
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(p.encode(p.Hello(1, p.PROTOCOL_VERSION, "installer-test")))
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        line = proc.stdout.readline() if ready else b""
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    assert line, "no reply from the bridge: %s" % err
    message = p.decode(line)
    assert isinstance(message, p.Welcome), message
    return message


def exposure(text: str) -> float:
    marker = "Overall exposure level for"
    line = next(line for line in text.splitlines() if marker in line)
    return float(line.split(":", 1)[1].split()[0])


def system_daemons() -> list[psutil.Process]:
    """Daemons serving the system socket (what the unit, or install.sh without systemd, starts)."""
    return [proc for proc in psutil.process_iter(["cmdline"])
            if {"serve", SYSTEM_SOCKET} <= set(proc.info["cmdline"] or [])]


SYSTEM_PREFIX = Path("/opt/edge-runtime")


SYSTEM_STATE = Path("/var/lib/edge-runtime")


# Written before a test installs the system runtime and removed once it has uninstalled it: when
# a run was killed half-way, the next run knows the install it finds is a test's, and removes it.
TEST_INSTALL_MARK = Path("/var/tmp/edge-runtime-test-install")


def _system_install_present() -> bool:
    user = subprocess.run(["id", "edge-runtime"], capture_output=True, check=False).returncode == 0
    return SYSTEM_PREFIX.exists() or SYSTEM_STATE.exists() or user


def remove_system_install() -> None:
    """Remove the system runtime the way a person would: the package if dpkg has it, else the
    installer's own uninstall with --purge."""
    if shutil.which("dpkg") is not None:
        subprocess.run(["dpkg", "--purge", "edge-runtime"], capture_output=True, check=False, timeout=120)
    subprocess.run(["bash", str(DEVICE / "uninstall.sh"), "--purge"], capture_output=True, check=False, timeout=120)
    psutil.wait_procs(system_daemons(), timeout=20)


@contextlib.contextmanager
def system_install_slot() -> Iterator[None]:
    """This machine's /opt/edge-runtime, the edge-runtime user and /var/lib/edge-runtime, for one
    test. A leftover of an earlier test run is removed first; a system runtime somebody installed
    for real is never touched (the test skips, naming it). Everything is removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("a system install makes the edge-runtime service user and writes /opt: it needs root")
    if TEST_INSTALL_MARK.exists():
        remove_system_install()
        TEST_INSTALL_MARK.unlink()
    if _system_install_present():
        pytest.skip("this machine has a system edge-runtime that a test did not install (%s); "
                    "the test would replace it" % SYSTEM_PREFIX)
    TEST_INSTALL_MARK.write_text("installed by the edge-runtime test suite; removed when its test ends\n")
    try:
        yield
    finally:
        remove_system_install()
        if not _system_install_present():
            TEST_INSTALL_MARK.unlink()
