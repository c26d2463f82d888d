"""Connecting to a device over a real sshd: handshake, telemetry, runtime lookup, login methods."""

from __future__ import annotations

import os
import queue
import subprocess
from pathlib import Path

import pytest

from console.core.devices.client import ConnectionLost
from console.core.devices.session import DeviceSession, State, make_transport
from console.transport.ssh import SshTransport, bridge_command
from console.transport.ssh_errors import SshAuthError
from tests.support.ssh import RUNTIME, SshWorld, keygen
from tests.support.ssh_flows import Answers


def _session(world: SshWorld, **kw: object) -> DeviceSession:
    entry = world.entry(**kw)
    return DeviceSession(entry, make_transport(entry, world.env), world.env.clock)


def test_handshake_and_telemetry_over_ssh(ssh_world: SshWorld) -> None:
    ssh_world.trust(ssh_world.servers[0])
    session = _session(ssh_world)
    samples: queue.Queue[dict[str, float]] = queue.Queue()
    session.sample_listeners.append(lambda _t, values: samples.put(values))
    try:
        caps = session.connect()
        assert session.state is State.CONNECTED
        assert caps.hostname == os.uname().nodename and session.runtime_version
        assert "127.0.0.1:%d" % ssh_world.servers[0].port in session.transport.describe()
        table = session.start_telemetry(10.0)
        assert any(m.name == "cpu.load" for m in table.metrics)
        for _ in range(3):
            assert "cpu.load" in samples.get(timeout=10)
        assert session.ping() < 1.0
    finally:
        session.close()
    # the daemon the bridge started lives where the device's environment says, not in a shared place
    assert ssh_world.servers[0].remote_socket.exists()


def test_the_remote_side_has_no_forwarded_agent(ssh_world: SshWorld, short_tmp: Path) -> None:
    ssh_world.trust(ssh_world.servers[0])
    agent = subprocess.run(["ssh-agent", "-a", str(short_tmp / "agent.sock")], capture_output=True, text=True,
                           check=True, timeout=30)
    pid = int(agent.stdout.split("SSH_AGENT_PID=")[1].split(";")[0])
    try:
        sock = str(short_tmp / "agent.sock")
        subprocess.run(["ssh-add", str(ssh_world.client_key)], env={"SSH_AUTH_SOCK": sock}, check=True,
                       capture_output=True, timeout=30)
        ssh_world.env.environ["SSH_AUTH_SOCK"] = sock
        # no key file: the only way in is the agent
        transport = make_transport(ssh_world.entry(key=None), ssh_world.env)
        assert isinstance(transport, SshTransport)
        conn = transport.connection()
        result = conn.run('echo "agent=[${SSH_AUTH_SOCK:-}]"')
        transport.close()
    finally:
        os.kill(pid, 15)
    assert result.stdout.decode().strip() == "agent=[]"
    assert "Accepted publickey" in ssh_world.servers[0].read_log()


def test_key_with_passphrase_is_asked_for(ssh_world: SshWorld, short_tmp: Path) -> None:
    server = ssh_world.servers[0]
    ssh_world.trust(server)
    locked = keygen(short_tmp / "locked_key", "rsa", passphrase="open sesame")
    server.authorize(locked.with_suffix(".pub"))
    answers = Answers(passphrases=["wrong", "open sesame"])
    ssh_world.env.ssh_prompts = answers
    session = _session(ssh_world, key=str(locked))
    try:
        session.connect()
        assert session.state is State.CONNECTED
    finally:
        session.close()
    assert answers.asked == [("passphrase", str(locked), "False"), ("passphrase", str(locked), "True")]


def test_declined_passphrase_and_wrong_key_fail_clearly(ssh_world: SshWorld, short_tmp: Path) -> None:
    ssh_world.trust(ssh_world.servers[0])
    stranger = keygen(short_tmp / "stranger_key")
    locked = keygen(short_tmp / "locked_key", passphrase="pw")
    ssh_world.env.ssh_prompts = Answers(passphrases=[None])
    for key in (stranger, locked):
        session = _session(ssh_world, key=str(key))
        with pytest.raises(SshAuthError) as caught:
            session.connect()
        session.close()
        message = str(caught.value)
        assert "refused the login" in message and str(key) in message and "authorized_keys" in message
        assert session.state is State.DISCONNECTED


def test_explicit_runtime_missing_is_reported(ssh_world: SshWorld) -> None:
    ssh_world.trust(ssh_world.servers[0])
    session = _session(ssh_world, runtime="/nowhere/edge-runtime")
    with pytest.raises(ConnectionLost) as caught:
        session.connect(timeout=15)
    session.close()
    assert "/nowhere/edge-runtime" in str(caught.value)


def test_runtime_is_searched_for_when_not_configured(ssh_world: SshWorld) -> None:
    ssh_world.trust(ssh_world.servers[0])
    transport = make_transport(ssh_world.entry(runtime=None), ssh_world.env)
    assert isinstance(transport, SshTransport)
    conn = transport.connection()
    try:
        # with nothing installed where we look, the search says so and where it looked
        result = conn.run("PATH=/usr/bin:/bin HOME=/nonexistent " + bridge_command(None))
        assert result.code == 127
        assert b"not installed" in result.stderr and b"/opt/edge-runtime/bin/edge-runtime" in result.stderr
        # with the runtime first on PATH, the search finds it and the bridge answers the handshake
        bin_dir = str(Path(RUNTIME).parent)
        result = conn.run("PATH=%s:/usr/bin:/bin %s </dev/null" % (bin_dir, bridge_command(None)))
        assert result.code == 0, result.stderr
    finally:
        transport.close()
