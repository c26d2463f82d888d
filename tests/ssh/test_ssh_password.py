"""Password login (a fresh robot has no key of ours yet), through the prompt callback.

sshd checks passwords against the system's accounts, so this test makes a throwaway account with a
random password and deletes it afterwards; that needs root (CI runs as root). As another user the
account cannot be made, and the test says so instead of passing.
"""

from __future__ import annotations

import os
import pwd
import secrets
import subprocess
from collections.abc import Iterator

import psutil
import pytest

from console.core.devices.session import make_transport
from console.transport.ssh import SshTransport
from console.transport.ssh_errors import SshAuthError
from tests.support.ssh import SshWorld
from tests.support.ssh_flows import Answers


@pytest.fixture
def account() -> Iterator[tuple[str, str]]:
    if os.geteuid() != 0:
        pytest.skip("making a throwaway account for password login needs root")
    name = "eoc%s" % secrets.token_hex(4)
    password = secrets.token_urlsafe(12)
    subprocess.run(["useradd", "-M", "-d", "/nonexistent", "-s", "/bin/sh", name], check=True,
                   capture_output=True, timeout=30)
    try:
        subprocess.run(["chpasswd"], input="%s:%s\n" % (name, password), text=True, check=True,
                       capture_output=True, timeout=30)
        yield name, password
    finally:
        uid = pwd.getpwnam(name).pw_uid
        # The closed login's sshd process ends on its own, shortly: wait for those processes to exit.
        leftovers = [p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == uid]
        psutil.wait_procs(leftovers, timeout=15)
        subprocess.run(["userdel", "-f", name], check=True, capture_output=True, timeout=30)


def test_password_login_through_the_callback(ssh_world: SshWorld, account: tuple[str, str]) -> None:
    name, password = account
    ssh_world.trust(ssh_world.servers[0])
    ssh_world.env.ssh_prompts = answers = Answers(passwords=["not it", password])
    transport = make_transport(ssh_world.entry(user=name, key=None), ssh_world.env)
    assert isinstance(transport, SshTransport)
    try:
        result = transport.connection().run("id -un")
    finally:
        transport.close()
    assert result.stdout.decode().strip() == name
    assert answers.asked == [("password", name, "127.0.0.1", "False"), ("password", name, "127.0.0.1", "True")]
    assert "Accepted password for %s" % name in ssh_world.servers[0].read_log()


def test_no_password_given_is_a_clear_refusal(ssh_world: SshWorld, account: tuple[str, str]) -> None:
    name, _ = account
    ssh_world.trust(ssh_world.servers[0])
    ssh_world.env.ssh_prompts = Answers(passwords=[None])
    transport = make_transport(ssh_world.entry(user=name, key=None), ssh_world.env)
    assert isinstance(transport, SshTransport)
    with pytest.raises(SshAuthError) as caught:
        transport.connection()
    transport.close()
    assert "password (none given)" in str(caught.value) and not caught.value.retryable
