"""Host keys against a real sshd: unknown refused then trusted and saved, changed refused, ProxyJump hops."""

from __future__ import annotations

import subprocess
from pathlib import Path

import paramiko
import pytest

from console.core.devices.session import make_transport
from console.transport.hostkeys import HostKeyChanged, HostKeyStore, UnknownHostKey, host_id
from console.transport.ssh import SshTransport
from console.transport.ssh_errors import SshError
from console.transport.ssh_prompts import SshPrompts
from tests.support.ssh import SshServer, SshWorld
from tests.support.ssh_flows import Answers, _plant_other_key


def _transport(world: SshWorld, **kw: object) -> SshTransport:
    transport = make_transport(world.entry(**kw), world.env)
    assert isinstance(transport, SshTransport)
    return transport


def _connect(transport: SshTransport) -> None:
    try:
        transport.connection().run("true")
    finally:
        transport.close()


def test_unknown_host_is_refused_then_trusted_and_remembered(ssh_world: SshWorld) -> None:
    server = ssh_world.servers[0]
    with pytest.raises(UnknownHostKey) as caught:
        _connect(_transport(ssh_world))
    unknown = caught.value
    assert unknown.fingerprint == server.host_fingerprint and unknown.key_type == "ssh-ed25519"
    assert unknown.host == "[127.0.0.1]:%d" % server.port
    assert server.host_fingerprint in str(unknown) and not unknown.retryable
    assert not ssh_world.env.known_hosts_path.exists()

    ssh_world.env.ssh_prompts = answers = Answers(trust=True)
    _connect(_transport(ssh_world))
    assert answers.asked == [("hostkey", unknown.host, "ssh-ed25519", server.host_fingerprint)]
    saved = ssh_world.env.known_hosts_path.read_text()
    assert saved.startswith("[127.0.0.1]:%d ssh-ed25519 " % server.port)
    assert (ssh_world.env.known_hosts_path.stat().st_mode & 0o077) == 0
    # OpenSSH reads the console's file and agrees on the fingerprint
    listed = subprocess.run(["ssh-keygen", "-lf", str(ssh_world.env.known_hosts_path)], capture_output=True,
                            text=True, check=True, timeout=30).stdout
    assert server.host_fingerprint in listed

    ssh_world.env.ssh_prompts = refuse_all = Answers(trust=False)
    _connect(_transport(ssh_world))  # remembered: no question this time
    assert refuse_all.asked == []


def test_the_users_hashed_known_hosts_is_honoured_and_never_written(ssh_world: SshWorld) -> None:
    server = ssh_world.servers[0]
    known = ssh_world.ssh_dir / "known_hosts"
    kind, blob = server.host_key.with_suffix(".pub").read_text().split()[:2]
    known.write_text("[127.0.0.1]:%d %s %s\n" % (server.port, kind, blob))
    subprocess.run(["ssh-keygen", "-H", "-f", str(known)], check=True, capture_output=True, timeout=30)
    assert "127.0.0.1" not in known.read_text()  # hashed, as Debian's ssh does by default
    before = known.read_text()
    _connect(_transport(ssh_world))
    assert known.read_text() == before and not ssh_world.env.known_hosts_path.exists()


def test_changed_host_key_is_refused_naming_both_fingerprints(ssh_world: SshWorld, short_tmp: Path) -> None:
    server = ssh_world.servers[0]
    old = _plant_other_key(ssh_world.env.known_hosts_path, server, short_tmp)
    before = ssh_world.env.known_hosts_path.read_text()

    class Recorder(SshPrompts):
        warned: list[HostKeyChanged] = []

        def confirm_host_key(self, unknown: UnknownHostKey) -> bool:
            raise AssertionError("a changed key must never be offered for trust")

        def host_key_changed(self, changed: HostKeyChanged) -> None:
            self.warned.append(changed)

    ssh_world.env.ssh_prompts = recorder = Recorder()
    with pytest.raises(HostKeyChanged) as caught:
        _connect(_transport(ssh_world))
    message = str(caught.value)
    assert old in message and server.host_fingerprint in message
    assert "edgectl devices trust DEVICE --replace" in message and "do not connect" in message
    assert recorder.warned and recorder.warned[0].new_fingerprint == server.host_fingerprint
    assert ssh_world.env.known_hosts_path.read_text() == before
    assert "Accepted" not in server.read_log()  # refused before logging in

    # the documented way out: forget the console's old key, then trust the new one
    assert HostKeyStore(ssh_world.env.known_hosts_path).forget(host_id("127.0.0.1", server.port)) == 1
    ssh_world.env.ssh_prompts = Answers(trust=True)
    _connect(_transport(ssh_world))


def test_changed_key_in_the_users_file_says_how_to_remove_it(ssh_world: SshWorld, short_tmp: Path) -> None:
    server = ssh_world.servers[0]
    _plant_other_key(ssh_world.ssh_dir / "known_hosts", server, short_tmp)
    with pytest.raises(HostKeyChanged) as caught:
        _connect(_transport(ssh_world))
    assert "ssh-keygen -R '[127.0.0.1]:%d' -f %s" % (server.port, ssh_world.ssh_dir / "known_hosts") in str(
        caught.value)


def _jump_config(world: SshWorld, bastion: SshServer, robot: SshServer) -> None:
    world.write_ssh_config(
        "Host bastion\n  HostName 127.0.0.1\n  Port %d\n  User %s\n  IdentityFile %s\n\n"
        "Host robot-behind\n  HostName 127.0.0.1\n  Port %d\n  User %s\n  IdentityFile %s\n  ProxyJump bastion\n"
        "  ServerAliveInterval 2\n"
        % (bastion.port, world.env.local_user, world.client_key, robot.port, world.env.local_user, world.client_key))


def test_proxyjump_verifies_every_hop(ssh_world: SshWorld, second_server: SshServer) -> None:
    bastion, robot = ssh_world.servers
    _jump_config(ssh_world, bastion, robot)
    entry = ssh_world.entry("robot-behind", host="robot-behind", port=None, user=None, key=None)
    ssh_world.env.ssh_prompts = answers = Answers(trust=False)
    with pytest.raises(UnknownHostKey) as caught:
        _connect_entry(ssh_world, entry)
    assert caught.value.host == host_id("127.0.0.1", bastion.port)  # the bastion is checked first

    ssh_world.env.ssh_prompts = answers = Answers(trust=True)
    transport = make_transport(entry, ssh_world.env)
    assert isinstance(transport, SshTransport)
    conn = transport.connection()
    try:
        assert [type(t.sock) for t in conn.transports][1] is paramiko.Channel  # hop 2 rides hop 1
        assert conn.run("echo via-bastion").stdout == b"via-bastion\n"
    finally:
        transport.close()
    assert [a[1] for a in answers.asked] == [host_id("127.0.0.1", bastion.port), host_id("127.0.0.1", robot.port)]
    assert [a[3] for a in answers.asked] == [bastion.host_fingerprint, robot.host_fingerprint]
    assert "route robot-behind" not in transport.describe() and "via bastion" in transport.describe()


def test_proxyjump_fails_clearly_when_the_bastion_cannot_forward(ssh_world: SshWorld,
                                                                 second_server: SshServer) -> None:
    bastion, robot = ssh_world.servers
    bastion.stop()
    bastion.extra.append("AllowTcpForwarding no")
    bastion.start()
    _jump_config(ssh_world, bastion, robot)
    ssh_world.trust(bastion)
    ssh_world.trust(robot)
    entry = ssh_world.entry("robot-behind", host="robot-behind", port=None, user=None, key=None)
    with pytest.raises(SshError) as caught:
        _connect_entry(ssh_world, entry)
    assert "jump host could not reach 127.0.0.1:%d" % robot.port in str(caught.value)


def _connect_entry(world: SshWorld, entry: object) -> None:
    transport = make_transport(entry, world.env)  # type: ignore[arg-type]
    assert isinstance(transport, SshTransport)
    _connect(transport)
