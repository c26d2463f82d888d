"""The simulated lab leaves nothing behind: not when its block ends, not when its block fails, and not
when the process running it is killed (the next lab removes what the dead one left: namespaces and the
processes in them, the bridge, the robots' users and what they ran, the temp tree). Robots without a
runtime here (``install=False``): the clean-up is the same and needs no wheelhouse."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.netlab import Lab, leftovers, remove_stale, start_lab, unavailable

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

# A lab in a process of its own; one robot's user leaves a process running in its namespace (as the
# daemon its bridge starts does), then the process says where the lab is and waits to be killed.
CHILD = """
import subprocess, sys
from tests.support.netlab import start_lab
with start_lab(2, install=False) as lab:
    robot = lab.robots[0]
    subprocess.run([*robot.ns.exec_prefix, "runuser", "-u", robot.user, "--", "sh", "-c",
                    "sleep 600 </dev/null >/dev/null 2>&1 & echo $!"], check=True, capture_output=True)
    print(lab.base, robot.user, robot.ns.name, lab.network.bridge, flush=True)
    sys.stdin.read()
"""


@pytest.fixture(autouse=True)
def _needs_root() -> None:
    reason = unavailable()
    if reason is not None:
        pytest.skip(reason)


def _gone(lab: Lab) -> list[str]:
    """What is left of one lab of this process (another lab of this process may run meanwhile)."""
    marks = [str(lab.base), lab.network.bridge, *lab.users, *(r.ns.name for r in lab.robots)]
    return [item for item in leftovers(os.getpid()) if any(mark in item for mark in marks)]


def test_a_lab_leaves_nothing_when_its_block_ends_or_fails() -> None:
    with start_lab(2, install=False) as lab:
        assert len(_gone(lab)) >= 2 + 2 + 1 + 1  # namespaces, users, the bridge, the tree (and its sshd)
        listed = {row["name"]: row for row in json.loads(lab.edgectl("devices", "--json")[1])}
        assert [name for name in listed if name != "local"] == ["robot-01", "robot-02"]  # local: the built-in one
        assert listed["robot-02"]["tags"] == ["lab"] and listed["robot-02"]["host"] == lab.robots[1].address
        # plain OpenSSH reaches each robot as its own user, in its own namespace, at its own address
        config = lab.base / "ssh_config"
        config.write_text(lab.openssh_config())
        for robot in lab.robots:
            said = subprocess.run(["ssh", "-F", str(config), robot.name, "id -un; ip -o -4 addr show"],
                                  capture_output=True, text=True, timeout=60, check=False)
            assert said.returncode == 0, said.stderr
            assert said.stdout.splitlines()[0] == robot.user and " %s/24 " % robot.address in said.stdout
            assert lab.robots[1 - lab.robots.index(robot)].address not in said.stdout
    assert _gone(lab) == []

    with pytest.raises(RuntimeError, match="in the middle"), start_lab(1, install=False) as failed:
        raise RuntimeError("a test failed in the middle")
    assert _gone(failed) == []


def test_a_lab_that_cannot_be_made_leaves_nothing(tmp_path: Path) -> None:
    before = leftovers(os.getpid())
    with pytest.raises(RuntimeError, match="edgectl install on robot-01 failed") as caught, \
            start_lab(2, wheelhouse=tmp_path):  # an empty wheelhouse: the install is refused
        pytest.fail("the lab was handed over without a runtime")
    assert "wheel" in str(caught.value), caught.value
    assert leftovers(os.getpid()) == before


def test_the_next_lab_removes_what_a_killed_run_left() -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line, child.stderr.read() if child.stderr else ""
        base, user, namespace, bridge = line.split()
        left = leftovers(child.pid)
        for mark in (base, user, namespace, bridge, "sleep 600", "sshd"):
            assert any(mark in item for item in left), (mark, left)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        if child.stdin is not None:
            child.stdin.close()
    assert leftovers(child.pid) != []  # killed: its clean-up never ran
    remove_stale()
    assert leftovers(child.pid) == []
