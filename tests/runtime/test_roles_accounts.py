"""Roles with real accounts: a throwaway user in the socket's group deploys, rolls back and reads
on a real daemon but is refused (not_allowed) trusting a key or changing the signature policy;
once the same user is in the edge-runtime-admin group, those calls succeed. The daemon decides
from the connecting process's credentials (SO_PEERCRED, SO_PEERGROUPS), so the client runs as
that user (runuser). Making accounts needs root (CI runs as root); the test removes them."""

from __future__ import annotations

import grp
import os
import secrets
import select
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from device_runtime import protocol as p
from device_runtime.server import roles
from device_runtime.server.bridge import start_daemon
from tests.support.daemons import stop_daemon
from tests.support.store import OTHER_KEY, make_package, public_line
from tests.support.wire import RawClient

SYSTEM_PYTHON = "/usr/bin/python3"  # the throwaway user cannot read this project's virtual environment
# Relays bytes between its stdin/stdout and the daemon's socket: no project code, any user.
RELAY = """
import os, select, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
while True:
    for ready in select.select([0, s], [], [])[0]:
        data = os.read(0, 65536) if ready == 0 else s.recv(65536)
        if not data:
            sys.exit(0)
        if ready == 0:
            s.sendall(data)
        else:
            os.write(1, data)
"""
REPLY_TIMEOUT_S = 60.0


@dataclass
class Account:
    user: str
    group: str  # the daemon socket's group, the user's primary group


def _run(*argv: str) -> None:
    subprocess.run(list(argv), check=True, capture_output=True, timeout=30)


@pytest.fixture
def account() -> Iterator[Account]:
    if os.geteuid() != 0 or not os.path.exists(SYSTEM_PYTHON):
        pytest.skip("making a throwaway account and running a client as it needs root and %s (CI runs the "
                    "tests as root)" % SYSTEM_PYTHON)
    tag = secrets.token_hex(3)
    made_admin_group = False
    acct = Account("eocop%s" % tag, "eocsock%s" % tag)
    _run("groupadd", acct.group)
    try:
        _run("useradd", "-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin", "-g", acct.group, acct.user)
        try:
            if roles.admin_gid() is None:
                _run("groupadd", roles.ADMIN_GROUP)
                made_admin_group = True
            yield acct
        finally:
            _run("userdel", "-f", acct.user)  # also takes it out of edge-runtime-admin
            if made_admin_group:
                _run("groupdel", roles.ADMIN_GROUP)
    finally:
        _run("groupdel", acct.group)


@pytest.fixture
def group_socket(short_tmp: Path, account: Account) -> Iterator[Path]:
    """A daemon run by root whose socket (and the directories to it) the account's group can
    reach and nobody else can, as the system unit sets it up for the edge-runtime group."""
    gid = grp.getgrnam(account.group).gr_gid
    runtime = short_tmp / "rt"
    runtime.mkdir()
    for directory in (short_tmp, runtime):
        os.chown(directory, 0, gid)
        directory.chmod(0o750)
    socket_path = runtime / "edge-runtime.sock"
    start_daemon(str(socket_path), str(short_tmp / "root"), ["--rate", "1"])
    try:
        os.chown(socket_path, 0, gid)  # 0660: the group's members may connect
        yield socket_path
    finally:
        stop_daemon(socket_path)


class ClientAs:
    """A protocol client whose connection belongs to ``user``: a relay process run as that user."""

    def __init__(self, user: str, socket_path: Path) -> None:
        self.proc = subprocess.Popen(["runuser", "-u", user, "--", SYSTEM_PYTHON, "-c", RELAY, str(socket_path)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.decoder = p.FrameDecoder()
        self.inbox: list[p.AnyMessage] = []
        self.next_id = 100
        self.send(p.Hello(1, p.PROTOCOL_VERSION, "operator"))
        welcome = self.recv()
        assert isinstance(welcome, p.Welcome), welcome

    def send(self, message: p.Message) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(p.encode(message))
        self.proc.stdin.flush()

    def recv(self) -> p.AnyMessage:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while not self.inbox:
            ready, _, _ = select.select([fd], [], [], REPLY_TIMEOUT_S)
            data = os.read(fd, 65536) if ready else b""
            if not data:
                raise ConnectionError("no reply from the daemon through the relay: %s" % self._stderr())
            for item in self.decoder.feed(data):
                assert isinstance(item, bytes)
                self.inbox.append(p.decode(item))
        return self.inbox.pop(0)

    def call(self, method: str, params: dict[str, Any]) -> p.AnyMessage:
        self.next_id += 1
        request_id = self.next_id
        self.send(p.Request(request_id, method, params))
        while True:
            message = self.recv()
            if isinstance(message, (p.Response, p.ErrorReply)) and message.id == request_id:
                return message

    def finished(self, method: str, params: dict[str, Any]) -> p.StoreAction:
        """Start a store action and wait for its last step, pushed on the store topic."""
        started = self.call(method, params)
        assert isinstance(started, p.Response), started
        action_id = started.result["id"]
        while True:
            message = self.recv()
            if isinstance(message, p.Event) and message.topic == p.TOPIC_STORE and message.data["id"] == action_id \
                    and message.data["state"] != p.STORE_ACTION_RUNNING:
                return p.StoreAction.from_wire(message.data)

    def _stderr(self) -> str:
        self.close()
        assert self.proc.stderr is not None
        return self.proc.stderr.read().decode("utf-8", "replace")

    def close(self) -> None:
        assert self.proc.stdin is not None
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _refused(reply: p.AnyMessage, user: str) -> None:
    assert isinstance(reply, p.ErrorReply) and reply.code == p.ErrorCode.NOT_ALLOWED, reply
    assert "needs the admin role" in reply.message and "usermod -aG %s %s" % (roles.ADMIN_GROUP, user) \
        in reply.message, reply.message


def test_a_group_member_operates_and_only_an_admin_group_member_changes_trust(
        group_socket: Path, account: Account, short_tmp: Path) -> None:
    packages = short_tmp / "packages"
    packages.mkdir()
    first, second = (make_package(packages, version=v, seed=i) for i, v in enumerate(("1.0.0", "1.1.0")))
    root = RawClient(group_socket)
    root.handshake()
    assert isinstance(root.call("store.keys.trust", {"public_key": public_line()}), p.Response)

    operator = ClientAs(account.user, group_socket)
    try:
        assert isinstance(operator.call("events.subscribe", {"topics": [p.TOPIC_STORE]}), p.Response)
        for package in (first, second):
            done = operator.finished("store.import", {"path": str(package), "activate": True})
            assert done.result == "committed", done.message
        done = operator.finished("store.rollback", {"name": "detector"})
        assert done.result == "committed" and done.version == "1.0.0", done.message
        versions = operator.call("store.versions", {"name": "detector"})
        assert isinstance(versions, p.Response) and versions.result["active"] == "1.0.0"
        assert isinstance(operator.call("store.policy.get", {}), p.Response)
        assert isinstance(operator.call("health.last", {}), p.Response)
        _refused(operator.call("store.keys.trust", {"public_key": public_line(OTHER_KEY, "operator")}), account.user)
        _refused(operator.call("store.policy.set", {"policy": "allow-unsigned"}), account.user)
    finally:
        operator.close()
    keys = root.call("store.keys.list")
    assert isinstance(keys, p.Response) and [k["comment"] for k in keys.result["keys"]] == ["tests"]
    policy = root.call("store.policy.get")
    assert isinstance(policy, p.Response) and policy.result["policy"] == "require-signature"
    audit = root.call("audit.list", {"limit": 20})
    assert isinstance(audit, p.Response)
    mine = [(e["action"], e["result"] == "ok") for e in audit.result["entries"] if e["actor"] == account.user]
    assert mine == [("import", True), ("import", True), ("rollback", True), ("trust key", False),
                    ("config", False)], mine

    _run("usermod", "-aG", roles.ADMIN_GROUP, account.user)
    admin = ClientAs(account.user, group_socket)  # a new login: the daemon sees the new group
    try:
        trusted = admin.call("store.keys.trust", {"public_key": public_line(OTHER_KEY, "operator")})
        assert isinstance(trusted, p.Response), trusted
        changed = admin.call("store.policy.set", {"policy": "allow-unsigned"})
        assert isinstance(changed, p.Response) and changed.result["policy"] == "allow-unsigned", changed
    finally:
        admin.close()
    keys = root.call("store.keys.list")
    assert isinstance(keys, p.Response) and sorted(k["comment"] for k in keys.result["keys"]) == ["operator", "tests"]
    root.close()
