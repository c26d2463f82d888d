"""The pure parts: backoff delays, destinations, and ~/.ssh/config routes (ProxyJump chains)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from console.core.devices.backoff import Backoff, ReconnectLoop
from console.transport.ssh_config import (
    ConfigContext,
    Destination,
    looks_like_destination,
    parse_destination,
    resolve_route,
)
from console.transport.ssh_errors import SshConfigError


def test_backoff_grows_caps_and_resets() -> None:
    backoff = Backoff(initial_s=0.5, factor=2, max_s=4, jitter=0)
    assert [backoff.next_delay() for _ in range(6)] == [0.5, 1, 2, 4, 4, 4]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_backoff_jitter_stays_in_band_and_spreads_consoles_apart() -> None:
    delays = [Backoff(initial_s=1, max_s=60, jitter=0.2, rng=random.Random(seed)).next_delay() for seed in range(50)]
    assert all(0.8 <= d <= 1.2 for d in delays)
    assert len({round(d, 6) for d in delays}) > 40


@pytest.mark.parametrize("kwargs", [{"initial_s": 0}, {"initial_s": 5, "max_s": 1}, {"factor": 0.5},
                                    {"jitter": 1.0}])
def test_backoff_refuses_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="backoff needs"):
        Backoff(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "expected"), [
    ("robot-07", Destination("robot-07")),
    ("pi@10.0.0.7", Destination("10.0.0.7", "pi")),
    ("pi@robot.lan:2222", Destination("robot.lan", "pi", 2222)),
    ("ssh://ubuntu@[fe80::1]:22", Destination("fe80::1", "ubuntu", 22)),
    ("127.0.0.1:2200", Destination("127.0.0.1", None, 2200)),
])
def test_destinations_parse(text: str, expected: Destination) -> None:
    assert parse_destination(text) == expected


@pytest.mark.parametrize("text", ["pi@", "a b", "pi@host:99999", "pi@host:port", ""])
def test_bad_destinations_say_why(text: str) -> None:
    with pytest.raises(ValueError):
        parse_destination(text)
    assert not looks_like_destination(text)


def test_plain_names_are_not_destinations() -> None:
    assert not looks_like_destination("robot-07") and looks_like_destination("pi@robot-07")


def _ctx(tmp: Path, config: str) -> ConfigContext:
    path = tmp / "config"
    path.write_text(config)
    return ConfigContext(path, tmp, "me")


def test_route_honours_the_config_and_explicit_values_win(short_tmp: Path) -> None:
    ctx = _ctx(short_tmp, "Host robot\n  HostName 10.1.2.3\n  User ubuntu\n  Port 2222\n"
                          "  IdentityFile /keys/robot\n  ServerAliveInterval 5\n  ServerAliveCountMax 4\n")
    target = resolve_route("robot", ctx).target
    assert (target.hostname, target.user, target.port) == ("10.1.2.3", "ubuntu", 2222)
    assert target.identity_files == ["/keys/robot"] and (target.alive_interval_s, target.alive_count) == (5, 4)
    assert target.host_key_name == "[10.1.2.3]:2222"
    override = resolve_route("robot", ctx, user="root", port=22, keys=["/keys/mine"]).target
    assert (override.user, override.port, override.identity_files[0]) == ("root", 22, "/keys/mine")
    assert override.host_key_name == "10.1.2.3"


def test_unknown_host_gets_defaults(short_tmp: Path) -> None:
    target = resolve_route("10.9.9.9", _ctx(short_tmp, "")).target
    assert (target.user, target.port) == ("me", 22)
    assert target.identity_files == [str(short_tmp / ".ssh" / k) for k in ("id_ed25519", "id_ecdsa", "id_rsa")]
    assert target.known_hosts_files[0] == str(short_tmp / ".ssh" / "known_hosts")


def test_proxyjump_chains_are_resolved_in_order(short_tmp: Path) -> None:
    ctx = _ctx(short_tmp, "Host inner\n  HostName 10.0.0.2\n  ProxyJump outer\n\n"
                          "Host outer\n  HostName gw.example.com\n  User jump\n\n"
                          "Host robot\n  HostName 192.168.1.7\n  ProxyJump inner,admin@extra:2022\n")
    route = resolve_route("robot", ctx)
    assert [h.hostname for h in route.jumps] == ["gw.example.com", "10.0.0.2", "extra"]
    assert route.jumps[0].user == "jump" and (route.jumps[2].user, route.jumps[2].port) == ("admin", 2022)
    assert route.describe() == "me@192.168.1.7:22 via outer, inner, extra"


def test_proxyjump_loops_and_ambiguity_are_refused(short_tmp: Path) -> None:
    loop = _ctx(short_tmp, "Host a\n  ProxyJump b\nHost b\n  ProxyJump a\n")
    with pytest.raises(SshConfigError, match="loop"):
        resolve_route("a", loop)
    both = _ctx(short_tmp, "Host r\n  ProxyJump j\n  ProxyCommand nc %h %p\n")
    with pytest.raises(SshConfigError, match="both ProxyJump and ProxyCommand"):
        resolve_route("r", both)


def test_bad_numbers_in_the_config_are_named(short_tmp: Path) -> None:
    with pytest.raises(SshConfigError, match="port 'ssh' for r is not a number"):
        resolve_route("r", _ctx(short_tmp, "Host r\n  Port ssh\n"))


class _Flaky(Exception):
    pass


class _Fatal(Exception):
    pass


def _loop(outcomes: list[Exception | None], waits: list[float], gave_up: list[Exception]) -> ReconnectLoop:
    def attempt() -> None:
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome

    return ReconnectLoop(Backoff(initial_s=0.001, max_s=0.004, jitter=0), attempt,
                         lambda delay, _reason, _n: waits.append(delay), gave_up.append,
                         lambda exc: isinstance(exc, _Fatal), (_Flaky, _Fatal))


def _join(loop: ReconnectLoop) -> None:
    loop.join(timeout=10)
    assert not loop.running


def test_reconnect_loop_retries_with_growing_delays_until_it_succeeds() -> None:
    waits: list[float] = []
    gave_up: list[Exception] = []
    outcomes: list[Exception | None] = [_Flaky(), _Flaky(), _Flaky(), None]
    loop = _loop(outcomes, waits, gave_up)
    loop.start("lost")
    _join(loop)
    assert waits == [0.001, 0.002, 0.004, 0.004] and not outcomes and not gave_up


def test_reconnect_loop_gives_up_on_a_permanent_error() -> None:
    waits: list[float] = []
    gave_up: list[Exception] = []
    fatal = _Fatal()
    loop = _loop([_Flaky(), fatal], waits, gave_up)
    loop.start("lost")
    _join(loop)
    assert gave_up == [fatal] and len(waits) == 2


def test_a_drop_during_an_attempt_keeps_the_loop_going() -> None:
    waits: list[float] = []
    outcomes: list[Exception | None] = []
    loop = _loop(outcomes, waits, [])

    def attempt_that_drops() -> None:
        loop.start("dropped again")  # what the session does when the fresh link dies at once
        loop._attempt = lambda: None  # type: ignore[method-assign]

    loop._attempt = attempt_that_drops  # type: ignore[method-assign]
    loop.start("lost")
    _join(loop)
    assert len(waits) == 2
