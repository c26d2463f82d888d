"""``edgectl devices authorize-key NAME [--key PATH]``: install your public key on a device.

What ``ssh-copy-id`` does, over the console's own login (a password is asked on the terminal), then
a second login that may use keys only proves the device now lets the key in.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from console.core.app import ConsoleCore
from console.core.devices.registry import UnknownDevice
from console.core.devices.session import make_transport
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from console.core.settings import DeviceEntry
from console.transport.ssh import SshTransport
from console.transport.ssh_errors import SshAuthError
from console.transport.ssh_keys import (
    KeyInstallError,
    KeyOffer,
    PublicKey,
    find_public_key,
    install_public_key,
    load_public_key,
)
from console.transport.ssh_prompts import SshPrompts


def add_parser(actions: Any) -> None:
    cmd = actions.add_parser("authorize-key",
                             help="install your SSH public key on a device (log in without a password)")
    cmd.add_argument("name", help="device name, SSH config alias or user@host[:port]")
    cmd.add_argument("--key", help="public key (.pub, or the private key next to it); default: the key the "
                                   "console logs in with, else the ssh-agent's first key")


def ssh_login(entry: DeviceEntry, env: ConsoleEnv) -> SshTransport:
    """The SSH login of a device registered as an SSH device (its transport says it is one)."""
    login = make_transport(entry, env).ssh_login()
    if login is None:
        raise UnknownDevice("%s is not reached over SSH: it has no SSH login" % entry.name)
    return login


def run(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv, asking: SshPrompts, key_only: SshPrompts) -> int:
    """``asking`` answers the login's questions without offering a key install of its own;
    ``key_only`` refuses passwords, for the check afterwards."""
    entry = core.registry.get(args.name)
    if entry.kind != "ssh":
        raise UnknownDevice("%s is not an SSH device: it has no SSH login to put a key in" % args.name)
    transport = ssh_login(entry, env)
    transport.prompts = asking
    try:
        conn = transport.connection()
        hop = conn.route.target
        try:
            key = load_public_key(Path(args.key).expanduser()) if args.key else find_public_key(hop, env.environ)
        except KeyInstallError as exc:
            env.stderr.write("edgectl: %s\n" % exc)
            return ExitCode.USAGE
        if key is None:
            env.stderr.write("edgectl: you have no SSH key to install (looked at %s and ssh-agent). Make one with "
                             "ssh-keygen -t ed25519, or name one with --key\n" % ", ".join(
                                 "%s.pub" % f for f in hop.identity_files))
            return ExitCode.USAGE
        where = KeyOffer(hop, key).where
        try:
            added = install_public_key(conn.transports[-1], key)
        except KeyInstallError as exc:
            env.stderr.write("edgectl: %s\n" % exc)
            return ExitCode.ERROR
    finally:
        transport.close()
    env.stdout.write("%s %s %s (%s) in %s\n" % ("installed" if added else "already in place:", key.key_type,
                                               key.fingerprint, key.source, where))
    return _check_key_login(core, args, env, key, key_only)


def _check_key_login(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv, key: PublicKey,
                     key_only: SshPrompts) -> int:
    transport = ssh_login(core.registry.get(args.name), env)
    transport.prompts = key_only
    try:
        transport.connection()
    except SshAuthError as exc:
        env.stderr.write("edgectl: the key is on %s, but a login with keys only is still refused (%s). The console "
                         "logs in with %s: give the device that key (edgectl devices add --key, or IdentityFile in "
                         "~/.ssh/config), or check AuthorizedKeysFile in the device's sshd_config\n"
                         % (args.name, exc, key.source))
        return ExitCode.ERROR
    finally:
        transport.close()
    env.stdout.write("a login to %s without a password works now\n" % args.name)
    return ExitCode.OK
