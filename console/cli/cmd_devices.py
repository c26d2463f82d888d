"""``edgectl devices``: list, add, remove, tag and trust devices, authorize your key."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from console.cli import authorize_key
from console.cli.registry import Commands
from console.cli.terminal_prompts import TerminalPrompts
from console.core.app import ConsoleCore
from console.core.devices.registry import UnknownDevice
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from console.core.settings import DeviceEntry
from console.transport.hostkeys import HostKeyChanged, HostKeyStore, UnknownHostKey
from console.transport.ssh_prompts import SshPrompts


class _NoKeyOffer(SshPrompts):
    """``devices authorize-key`` installs the key itself: its login asks what ``inner`` asks, but
    offers no install of its own; with ``passwords`` off (the check afterwards) it gives no password."""

    def __init__(self, inner: SshPrompts, passwords: bool = True) -> None:
        self.inner = inner
        self.passwords = passwords

    def confirm_host_key(self, unknown: UnknownHostKey) -> bool:
        return self.inner.confirm_host_key(unknown)

    def host_key_changed(self, changed: HostKeyChanged) -> None:
        self.inner.host_key_changed(changed)

    def passphrase(self, key_path: str, retry: bool) -> str | None:
        return self.inner.passphrase(key_path, retry)

    def password(self, user: str, host: str, retry: bool) -> str | None:
        return self.inner.password(user, host, retry) if self.passwords else None


class _TrustPrompts(TerminalPrompts):
    """``devices trust``: a key is trusted when it matches a fingerprint given, or the person says yes."""

    def __init__(self, env: ConsoleEnv, fingerprints: list[str]) -> None:
        super().__init__(env)
        self.fingerprints = fingerprints
        self.trusted: list[UnknownHostKey] = []

    def confirm_host_key(self, unknown: UnknownHostKey) -> bool:
        if self.fingerprints:
            ok = unknown.fingerprint in self.fingerprints
            if not ok:
                self.env.stderr.write("edgectl: %s shows %s %s, which is not a fingerprint you gave\n"
                                      % (unknown.host, unknown.key_type, unknown.fingerprint))
        else:
            ok = super().confirm_host_key(unknown)
        if ok:
            self.trusted.append(unknown)
        return ok


def register(sub: Any, commands: Commands) -> None:
    devices = sub.add_parser("devices", help="list, add, remove and trust devices")
    devices.add_argument("--json", action="store_true", help="list as JSON")
    actions = devices.add_subparsers(dest="devices_action", metavar="ACTION")
    add = actions.add_parser("add", help="register an SSH device")
    add.add_argument("name")
    reach = add.add_mutually_exclusive_group(required=True)
    reach.add_argument("--host", help="host name, address or ~/.ssh/config alias")
    reach.add_argument("--socket", help="a runtime daemon on this computer: its unix socket path")
    add.add_argument("--user", help="login user (default: from the SSH config, else yours)")
    add.add_argument("--port", type=int, help="SSH port (default: from the SSH config, else 22)")
    add.add_argument("--key", help="private key file")
    add.add_argument("--runtime", help="edge-runtime's path on the device (default: searched)")
    add.add_argument("--label", help="name shown in the console")
    add.add_argument("--tag", action="append", default=[], help="a tag the fleet commands select by (repeat)")
    tag = actions.add_parser("tag", help="add or remove a device's tags")
    tag.add_argument("name")
    tag.add_argument("--add", action="append", default=[], metavar="TAG", help="add this tag (repeat)")
    tag.add_argument("--remove", action="append", default=[], metavar="TAG", help="remove this tag (repeat)")
    remove = actions.add_parser("remove", help="forget a device (its host keys stay trusted)")
    remove.add_argument("name")
    trust = actions.add_parser("trust", help="check and save a device's host keys (every hop)")
    trust.add_argument("name")
    trust.add_argument("--fingerprint", action="append", default=[],
                       help="trust a key only if it has this SHA256 fingerprint (repeat for jump hosts)")
    trust.add_argument("--replace", action="store_true",
                       help="first forget the keys the console has for this device (after a re-install)")
    authorize_key.add_parser(actions)
    commands["devices"] = _devices


def _devices(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    action = args.devices_action
    if action == "add":
        return _add(core, args, env)
    if action == "remove":
        core.registry.remove(args.name)
        env.stdout.write("removed %s\n" % args.name)
        return ExitCode.OK
    if action == "trust":
        return _trust(core, args, env)
    if action == "tag":
        return _tag(core, args, env)
    if action == "authorize-key":
        return authorize_key.run(core, args, env, _NoKeyOffer(env.ssh_prompts), _NoKeyOffer(env.ssh_prompts, False))
    return _list(core, args, env)


def _list(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    devices = core.registry.devices()
    if args.json:
        rows = [{"name": d.name, "kind": d.kind, "label": d.display_name, "host": d.host, "tags": d.tags}
                for d in devices]
        env.stdout.write(json.dumps(rows) + "\n")
        return ExitCode.OK
    for d in devices:
        tags = "  [%s]" % ", ".join(d.tags) if d.tags else ""
        env.stdout.write("%-16s %-6s %s%s\n" % (d.name, d.kind, where(d), tags))
    return ExitCode.OK


def _tag(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    if not args.add and not args.remove:
        env.stderr.write("edgectl: say what to change: --add TAG and/or --remove TAG\n")
        return ExitCode.USAGE
    try:
        entry = core.registry.set_tags(args.name, args.add, args.remove)
    except ValueError as exc:
        env.stderr.write("edgectl: %s; nothing was changed\n" % exc)
        return ExitCode.USAGE
    env.stdout.write("%s: %s\n" % (entry.name, ", ".join(entry.tags) or "no tags"))
    return ExitCode.OK


def where(entry: DeviceEntry) -> str:
    if entry.kind == "local":
        return "this computer"
    if entry.kind == "socket":
        return "socket %s" % entry.socket
    user = "%s@" % entry.user if entry.user else ""
    port = ":%d" % entry.port if entry.port else ""
    return "%s%s%s" % (user, entry.host or entry.name, port)


def _add(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    key = str(Path(args.key).expanduser().resolve()) if args.key else None
    socket = str(Path(args.socket).expanduser().absolute()) if args.socket else None
    entry = DeviceEntry(name=args.name, kind="socket" if args.socket else "ssh", host=args.host, user=args.user,
                        port=args.port, key=key, runtime=args.runtime, label=args.label,
                        tags=sorted(set(args.tag)), socket=socket)
    problems = core.registry.problems(entry)
    if problems:
        for problem in problems:
            env.stderr.write("edgectl: %s\n" % problem)
        return ExitCode.USAGE
    core.registry.add(entry)
    env.stdout.write("added %s (%s). Connect with: edgectl --device %s status\n" % (args.name, where(entry), args.name))
    return ExitCode.OK


def _trust(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    entry = core.registry.get(args.name)
    if entry.kind != "ssh":
        raise UnknownDevice("%s is not an SSH device: there is no host key to trust" % args.name)
    transport = authorize_key.ssh_login(entry, env)
    prompts = _TrustPrompts(env, args.fingerprint)
    transport.prompts = prompts
    if args.replace:
        store = HostKeyStore(env.known_hosts_path)
        route = transport.route()
        dropped = sum(store.forget(hop.host_key_name) for hop in route.hops)
        env.stdout.write("forgot %d saved key%s for %s\n" % (dropped, "" if dropped == 1 else "s", args.name))
    try:
        transport.connection()
    finally:
        transport.close()
    for unknown in prompts.trusted:
        env.stdout.write("trusted %s %s %s\n" % (unknown.host, unknown.key_type, unknown.fingerprint))
    if not prompts.trusted:
        env.stdout.write("%s: every host key was already trusted\n" % args.name)
    return ExitCode.OK
