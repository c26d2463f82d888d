"""Roles on the real daemon: an operator (another user in the socket's group) may deploy, roll
back and watch, but only an admin (root, the edge-runtime-admin group, or the daemon's own user)
changes trust or the signature policy; the local demo device accepts unsigned packages only while
it trusts no key."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.cli.main import ExitCode
from console.core.env import ConsoleEnv
from device_runtime import protocol as p
from device_runtime.server import roles
from device_runtime.server.bridge import start_daemon
from tests.support.daemons import stop_daemon
from tests.support.store import edgectl, make_onnx, public_line
from tests.support.wire import RawClient

OPERATOR_UID = 65533
SYSTEM_PYTHON = "/usr/bin/python3"  # the operator cannot read this project's virtual environment
# Sends the frames it reads on stdin and prints each reply line: no project code, any user.
CLIENT = """
import socket, sys
frames = sys.stdin.buffer.read()
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(frames)
want, got = frames.count(b"\\n"), b""
while got.count(b"\\n") < want:
    got += s.recv(65536)
sys.stdout.write(got.decode())
"""


@pytest.fixture
def group_daemon(short_tmp: Path) -> Iterator[Path]:
    """A daemon (as root) whose socket the root group can reach, as an operator in its group would."""
    if os.geteuid() != 0 or not os.path.exists(SYSTEM_PYTHON):
        pytest.skip("needs root and %s to run a client as another user (CI runs the tests as root)" % SYSTEM_PYTHON)
    short_tmp.chmod(0o750)
    (short_tmp / "rt").mkdir(mode=0o750)
    socket_path = short_tmp / "rt" / "edge-runtime.sock"
    start_daemon(str(socket_path), str(short_tmp / "root"), ["--rate", "1"])
    yield socket_path
    stop_daemon(socket_path)


def _as_operator(socket_path: Path, requests: list[tuple[str, dict[str, object]]]) -> list[p.AnyMessage]:
    frames = p.encode(p.Hello(1, p.PROTOCOL_VERSION, "operator")) + b"".join(
        p.encode(p.Request(10 + i, method, params)) for i, (method, params) in enumerate(requests))
    done = subprocess.run(["setpriv", "--reuid=%d" % OPERATOR_UID, "--regid=%d" % OPERATOR_UID, "--groups=0",
                           SYSTEM_PYTHON, "-c", CLIENT, str(socket_path)], input=frames, capture_output=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return [p.decode(line) for line in done.stdout.splitlines()]


def test_an_operator_cannot_change_trust_or_policy_but_root_can(group_daemon: Path) -> None:
    welcome, trust, policy, models, ping = _as_operator(group_daemon, [
        ("store.keys.trust", {"public_key": public_line()}),
        ("store.policy.set", {"policy": "allow-unsigned"}),
        ("store.models", {}),
        ("ping", {}),
    ])
    assert isinstance(welcome, p.Welcome)
    for refused in (trust, policy):
        assert isinstance(refused, p.ErrorReply) and refused.code == p.ErrorCode.NOT_ALLOWED, refused
        assert "needs the admin role" in refused.message and roles.ADMIN_GROUP in refused.message
    assert isinstance(models, p.Response) and isinstance(ping, p.Response)
    admin = RawClient(group_daemon)
    admin.handshake()
    keys = admin.call("store.keys.list")
    assert isinstance(keys, p.Response) and keys.result["keys"] == []  # nothing was trusted by the operator
    policy_now = admin.call("store.policy.get")
    assert isinstance(policy_now, p.Response) and policy_now.result["policy"] == "require-signature"
    assert isinstance(admin.call("store.keys.trust", {"public_key": public_line()}), p.Response)
    admin.close()


def test_who_is_an_admin() -> None:
    assert roles.is_admin(0, [], daemon_uid=999, admin_group=None)
    assert roles.is_admin(1000, [1000], daemon_uid=1000, admin_group=None)  # a per-user daemon's own user
    assert roles.is_admin(1001, [1001, 4242], daemon_uid=999, admin_group=4242)
    assert not roles.is_admin(1001, [1001, 998], daemon_uid=999, admin_group=4242)
    assert not roles.is_admin(-1, [], daemon_uid=-1, admin_group=None)  # credentials unreadable


def test_the_demo_device_takes_unsigned_packages_only_while_it_trusts_no_key(console_env: ConsoleEnv,
                                                                              tmp_path: Path) -> None:
    model = make_onnx(tmp_path / "det.onnx")
    code, _, err = edgectl(console_env, "deploy", str(model), "--name", "detector")
    assert code == ExitCode.OK, err
    assert edgectl(console_env, "keys", "new", "lab")[0] == ExitCode.OK
    code, out, err = edgectl(console_env, "keys", "trust", str(console_env.config_dir / "keys" / "lab.pub"))
    assert code == ExitCode.OK, err
    code, _, err = edgectl(console_env, "deploy", str(model), "--name", "detector")
    assert code == ExitCode.ERROR and "not signed" in err, err
    code, out, _ = edgectl(console_env, "versions", "detector", "--json")
    assert [v["version"] for v in json.loads(out)["versions"]] == ["1.0.0"]
    code, _, err = edgectl(console_env, "deploy", str(model), "--name", "detector", "--key", "lab")
    assert code == ExitCode.OK, err

