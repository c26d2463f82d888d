"""install.sh and the ``jtop`` group: jetson-stats' socket (/run/jtop.sock) is ``root:jtop 0660``,
so the service user joins the group where jetson-stats made it, and no group is made where it did not.

Run as root (as CI does): the test installs the system runtime twice, creates the group between the
two installs, and removes the runtime, its user and the group at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.installers import DEVICE, system_install_slot

pytestmark = [
    pytest.mark.timeout(600),  # two installs from the wheelhouse
    pytest.mark.skipif(os.geteuid() != 0, reason="installing the system service needs root"),
]


def group_exists(name: str) -> bool:
    return subprocess.run(["getent", "group", name], capture_output=True, check=False).returncode == 0


def groups_of(user: str) -> list[str]:
    return subprocess.run(["id", "-nG", user], capture_output=True, text=True, check=True).stdout.split()


@contextlib.contextmanager
def no_jtop_group_yet() -> Iterator[None]:
    """The test makes the ``jtop`` group itself; a group jetson-stats made on this host is never touched."""
    if group_exists("jtop"):
        pytest.skip("this machine has a jtop group (jetson-stats); the test would have to delete it")
    try:
        yield
    finally:
        if group_exists("jtop"):
            subprocess.run(["groupdel", "jtop"], capture_output=True, check=True)


def install(wheelhouse: Path) -> str:
    done = subprocess.run(["bash", str(DEVICE / "install.sh"), "--wheels", str(wheelhouse)],
                          capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_service_user_joins_jtop_only_where_the_group_exists(wheelhouse: Path) -> None:
    groupadd = shutil.which("groupadd") or "/usr/sbin/groupadd"
    with system_install_slot(), no_jtop_group_yet():
        install(wheelhouse)
        assert "jtop" not in groups_of("edge-runtime")
        assert not group_exists("jtop")  # the installer made no group of its own
        # jetson-stats installed after the runtime: installing the runtime again adds the group.
        subprocess.run([groupadd, "--system", "jtop"], capture_output=True, check=True)
        install(wheelhouse)
        assert "jtop" in groups_of("edge-runtime")
        assert "edge-runtime" in groups_of("edge-runtime")
    assert not group_exists("jtop")
    assert subprocess.run(["id", "edge-runtime"], capture_output=True, check=False).returncode != 0
