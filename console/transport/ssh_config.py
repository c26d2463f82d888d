"""Where an SSH device really is: ``~/.ssh/config`` resolved into a route of hops.

Pure functions over a config file and explicit overrides, so a name typed anywhere (a registered
device, a config alias, ``user@host:port``) ends up as the same :class:`Route` that OpenSSH would
take, ProxyJump hops included.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from console.transport.hostkeys import host_id
from console.transport.ssh_errors import SshConfigError

if TYPE_CHECKING:  # imported where a config is read: naming a registered device needs no paramiko
    import paramiko

DEFAULT_PORT = 22
DEFAULT_ALIVE_INTERVAL_S = 3.0  # with 3 unanswered probes a dead link is noticed within 10 s
DEFAULT_ALIVE_COUNT = 3
DEFAULT_CONNECT_TIMEOUT_S = 15.0
DEFAULT_KEY_NAMES = ("id_ed25519", "id_ecdsa", "id_rsa")
MAX_JUMP_DEPTH = 8

_DESTINATION = re.compile(
    r"^(?:ssh://)?(?:(?P<user>[^@\s/]+)@)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::(?P<port>\d+))?$"
)


@dataclass(frozen=True)
class Destination:
    """``[user@]host[:port]`` as typed; missing parts are ``None``."""

    host: str
    user: str | None = None
    port: int | None = None


def parse_destination(text: str) -> Destination:
    """Parse ``[ssh://][user@]host[:port]`` (IPv6 in brackets). Raises ``ValueError`` with the reason."""
    match = _DESTINATION.match(text.strip())
    if match is None:
        raise ValueError("%r is not [user@]host[:port]" % text)
    port = int(match["port"]) if match["port"] else None
    if port is not None and not 0 < port < 65536:
        raise ValueError("port %d in %r is out of range (1-65535)" % (port, text))
    return Destination(match["host"].strip("[]"), match["user"], port)


def looks_like_destination(text: str) -> bool:
    """True for names that can only mean a host: ``user@host`` or ``host:port``."""
    if "@" not in text and ":" not in text:
        return False
    try:
        parse_destination(text)
    except ValueError:
        return False
    return True


@dataclass
class Hop:
    """One SSH server on the way, with everything needed to log in to it."""

    alias: str
    hostname: str
    port: int
    user: str
    identity_files: list[str] = field(default_factory=list)
    identities_only: bool = False
    host_key_alias: str | None = None
    proxy_command: str | None = None
    alive_interval_s: float = DEFAULT_ALIVE_INTERVAL_S
    alive_count: int = DEFAULT_ALIVE_COUNT
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    known_hosts_files: list[str] = field(default_factory=list)

    @property
    def host_key_name(self) -> str:
        """The name this hop's key is filed under in known_hosts."""
        return host_id(self.host_key_alias or self.hostname, self.port)

    def describe(self) -> str:
        return "%s@%s:%d" % (self.user, self.hostname, self.port)


@dataclass
class Route:
    """Jump hosts in order, then the target."""

    jumps: list[Hop]
    target: Hop

    @property
    def hops(self) -> list[Hop]:
        return [*self.jumps, self.target]

    def describe(self) -> str:
        via = " via %s" % ", ".join(h.alias for h in self.jumps) if self.jumps else ""
        return "%s%s" % (self.target.describe(), via)


@dataclass
class ConfigContext:
    """Where the user's SSH settings live, and who the user is locally."""

    config_path: Path
    home: Path
    local_user: str


def load_config(path: Path) -> paramiko.SSHConfig:
    import paramiko

    if not path.exists():
        return paramiko.SSHConfig()
    try:
        return paramiko.SSHConfig.from_path(str(path))
    except (OSError, paramiko.ssh_exception.ConfigParseError) as exc:
        raise SshConfigError("cannot read %s: %s" % (path, exc)) from exc


def config_aliases(path: Path) -> set[str]:
    """Host names the config defines literally (no wildcards), for resolving device names."""
    names = load_config(path).get_hostnames()
    return {n for n in names if not any(c in n for c in "*?!")}


def _int(options: paramiko.SSHConfigDict, key: str, default: int, what: str) -> int:
    raw = options.get(key)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SshConfigError("%s %r for %s is not a number; fix the SSH config" % (key, raw, what)) from None


def resolve_hop(name: str, ctx: ConfigContext, config: paramiko.SSHConfig, user: str | None = None,
                port: int | None = None, keys: Sequence[str] = ()) -> Hop:
    """One host as OpenSSH sees it; explicit ``user``/``port``/``keys`` win over the config."""
    options = config.lookup(name)
    files = [str(Path(p).expanduser()) for p in options.get("identityfile", [])]
    if keys:
        files = [str(Path(k).expanduser()) for k in keys] + files
    if not files:
        files = [str(ctx.home / ".ssh" / k) for k in DEFAULT_KEY_NAMES]
    alive = options.get("serveraliveinterval")
    try:
        alive_s = float(alive) if alive is not None else DEFAULT_ALIVE_INTERVAL_S
        timeout_s = float(options.get("connecttimeout", DEFAULT_CONNECT_TIMEOUT_S))
    except ValueError:
        raise SshConfigError("ServerAliveInterval / ConnectTimeout for %s is not a number" % name) from None
    known = options.get("userknownhostsfile")
    known_files = [p for p in (known.split() if known else [
        str(ctx.home / ".ssh" / "known_hosts"), str(ctx.home / ".ssh" / "known_hosts2")]) if p != "/dev/null"]
    proxy_command = options.get("proxycommand")
    return Hop(
        alias=name,
        hostname=options.get("hostname", name),
        port=port or _int(options, "port", DEFAULT_PORT, name),
        user=user or options.get("user") or ctx.local_user,
        identity_files=files,
        identities_only=options.get("identitiesonly", "no").lower() == "yes",
        host_key_alias=options.get("hostkeyalias"),
        proxy_command=None if proxy_command in (None, "none") else proxy_command,
        alive_interval_s=alive_s if alive_s > 0 else DEFAULT_ALIVE_INTERVAL_S,
        alive_count=max(1, _int(options, "serveralivecountmax", DEFAULT_ALIVE_COUNT, name)),
        connect_timeout_s=timeout_s,
        known_hosts_files=known_files,
    )


def _jumps(spec: str | None, ctx: ConfigContext, config: paramiko.SSHConfig, depth: int) -> list[Hop]:
    if not spec or spec.lower() == "none":
        return []
    if depth > MAX_JUMP_DEPTH:
        raise SshConfigError("ProxyJump chain is longer than %d hops (a loop?); fix the SSH config" % MAX_JUMP_DEPTH)
    hops: list[Hop] = []
    for part in spec.split(","):
        try:
            dest = parse_destination(part)
        except ValueError as exc:
            raise SshConfigError("ProxyJump %r: %s" % (spec, exc)) from None
        # A jump host's own ProxyJump comes first, as with `ssh -J`.
        hops.extend(_jumps(config.lookup(dest.host).get("proxyjump"), ctx, config, depth + 1))
        hops.append(resolve_hop(dest.host, ctx, config, dest.user, dest.port))
    return hops


def resolve_route(name: str, ctx: ConfigContext, user: str | None = None, port: int | None = None,
                  keys: Sequence[str] = ()) -> Route:
    """The route to ``name`` (a host or a config alias) with every jump host resolved."""
    config = load_config(ctx.config_path)
    target = resolve_hop(name, ctx, config, user, port, keys)
    options = config.lookup(name)
    jump_spec = options.get("proxyjump")
    if jump_spec and target.proxy_command:
        raise SshConfigError("%s has both ProxyJump and ProxyCommand; keep one in the SSH config" % name)
    return Route(_jumps(jump_spec, ctx, config, 1), target)
