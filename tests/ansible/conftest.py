"""The collection's tests drive ansible-playbook against real robots: the SSH fixtures' sshd robots and
local daemons on unix sockets. The SSH fixtures are shared from tests/ssh."""

from tests.ssh.conftest import second_server, ssh_world

__all__ = ["second_server", "ssh_world"]
