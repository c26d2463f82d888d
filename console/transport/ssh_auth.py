"""Logging in to one SSH server: ssh-agent keys, key files (passphrases asked), then a password.

The order is OpenSSH's. Secrets come only from :class:`SshPrompts`; nothing is cached here, and the
agent is only asked to sign (agent forwarding is never requested).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import cast

import paramiko

from console.transport.ssh_agent import SocketAgent
from console.transport.ssh_config import Hop
from console.transport.ssh_errors import SshAuthError, SshError
from console.transport.ssh_prompts import SshPrompts

MAX_SECRET_TRIES = 3


class KeyLoadError(Exception):
    pass


def load_key(path: str, prompts: SshPrompts) -> paramiko.PKey | None:
    """Load a private key, asking for its passphrase if it has one. ``None`` when the person declines."""
    try:
        return paramiko.PKey.from_path(path)
    except TypeError:
        pass  # encrypted: paramiko wants a passphrase
    except (ValueError, paramiko.SSHException, OSError) as exc:
        raise KeyLoadError("%s is not a usable private key (%s)" % (path, exc)) from None
    for attempt in range(MAX_SECRET_TRIES):
        secret = prompts.passphrase(path, attempt > 0)
        if secret is None:
            return None
        try:
            return paramiko.PKey.from_path(path, cast(str, secret.encode()))
        except (ValueError, TypeError, paramiko.SSHException):
            continue
    raise KeyLoadError("wrong passphrase for %s (%d tries)" % (path, MAX_SECRET_TRIES))


class Authenticator:
    """Tries every method the server allows, keeping a readable account of what happened."""

    def __init__(self, prompts: SshPrompts, environ: Mapping[str, str]) -> None:
        self.prompts = prompts
        self.environ = environ

    def login(self, transport: paramiko.Transport, hop: Hop) -> str:
        """Log in; the method that worked: "none", "publickey" or "password"."""
        tried: list[str] = []
        try:
            transport.auth_none(hop.user)
            return "none"
        except paramiko.BadAuthenticationType as exc:
            allowed = list(exc.allowed_types)
        except paramiko.SSHException as exc:
            raise SshError("%s dropped the login: %s" % (hop.describe(), exc)) from exc
        if "publickey" in allowed:
            if not hop.identities_only and self._agent_login(transport, hop, tried):
                return "publickey"
            if self._key_login(transport, hop, tried):
                return "publickey"
        if ("password" in allowed or "keyboard-interactive" in allowed) and self._password_login(
                transport, hop, allowed, tried):
            return "password"
        raise SshAuthError(
            "%s refused the login (server allows: %s; tried: %s). Add your public key to ~/.ssh/authorized_keys "
            "on the device, or check the user name and password." % (
                hop.describe(), ", ".join(allowed) or "nothing", "; ".join(tried) or "nothing we could offer"))

    def _try_key(self, transport: paramiko.Transport, user: str, key: paramiko.PKey) -> bool:
        try:
            transport.auth_publickey(user, key)
        except paramiko.AuthenticationException:
            return False
        except paramiko.SSHException as exc:
            raise SshError("the login was cut off: %s" % exc) from exc
        return transport.is_authenticated()

    def _agent_login(self, transport: paramiko.Transport, hop: Hop, tried: list[str]) -> bool:
        path = self.environ.get("SSH_AUTH_SOCK")
        if not path:
            return False
        try:
            agent = SocketAgent(path)
        except (OSError, paramiko.SSHException) as exc:
            tried.append("ssh-agent unreachable (%s)" % exc)
            return False
        try:
            keys = agent.get_keys()
            for key in keys:
                if self._try_key(transport, hop.user, key):
                    return True
            tried.append("ssh-agent (%d keys refused)" % len(keys))
            return False
        finally:
            agent.close()

    def _key_login(self, transport: paramiko.Transport, hop: Hop, tried: list[str]) -> bool:
        for path in hop.identity_files:
            if not Path(path).is_file():
                continue
            try:
                key = load_key(path, self.prompts)
            except KeyLoadError as exc:
                tried.append(str(exc))
                continue
            if key is None:
                tried.append("%s (no passphrase given)" % path)
                continue
            if self._try_key(transport, hop.user, key):
                return True
            tried.append("%s (refused)" % path)
        return False

    def _password_login(self, transport: paramiko.Transport, hop: Hop, allowed: list[str],
                        tried: list[str]) -> bool:
        for attempt in range(MAX_SECRET_TRIES):
            secret = self.prompts.password(hop.user, hop.hostname, attempt > 0)
            if secret is None:
                tried.append("password (none given)")
                return False
            try:
                if "password" in allowed:
                    transport.auth_password(hop.user, secret)
                else:
                    def answer(_title: str, _instructions: str, prompts: list[tuple[str, bool]],
                               secret: str = secret) -> list[str]:
                        return [secret for _ in prompts]

                    transport.auth_interactive(hop.user, answer)
            except paramiko.AuthenticationException:
                continue
            except paramiko.SSHException as exc:
                raise SshError("the login was cut off: %s" % exc) from exc
            if transport.is_authenticated():
                return True
        tried.append("password (wrong %d times)" % MAX_SECRET_TRIES)
        return False
