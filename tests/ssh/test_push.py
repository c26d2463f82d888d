"""``edgectl push`` against a real sshd and the local device: the file lands in the store's
``incoming/`` verified by the device, a cut link is reconnected and the push resumed, a push that
gives up says so and the next one resumes, and a damaged partial is refused."""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from console.cli.main import main
from console.core.devices.backoff import Backoff
from console.core.devices.session import DeviceSession, make_transport
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from console.core.transfers.push import Pusher, PushGaveUp
from console.core.transfers.push_progress import SENDING, PushProgress
from tests.support.ssh import SshWorld
from tests.support.ssh_flows import _destination, _use_client_key

MB = 1 << 20
SIZE = 48 * MB + 12345  # not a multiple of any block size


class TimedTerminal(io.StringIO):
    """A terminal that remembers when each piece of text was written to it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[float, str]] = []

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.writes.append((time.monotonic(), text))
        return super().write(text)


def edgectl(env: ConsoleEnv, *argv: str, stderr: io.StringIO | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), stderr or io.StringIO()
    env.stdout, env.stderr, env.stdin = out, err, io.StringIO()
    code = main(list(argv), env)
    return code, out.getvalue(), err.getvalue()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def big(short_tmp: Path) -> Path:
    path = short_tmp / "laptop" / "weights.bin"
    path.parent.mkdir()
    path.write_bytes(os.urandom(SIZE))
    return path


def _session(world: SshWorld) -> DeviceSession:
    world.trust(world.servers[0])
    entry = world.entry()
    return DeviceSession(entry, make_transport(entry, world.env), world.env.clock)


def _partials(world: SshWorld) -> list[Path]:
    return list(world.servers[0].remote_data_dir.rglob("incoming/*.part"))


def test_edgectl_push_lands_in_incoming_verified(ssh_world: SshWorld, big: Path) -> None:
    _use_client_key(ssh_world)
    ssh_world.trust(ssh_world.servers[0])
    dest = _destination(ssh_world)
    terminal = TimedTerminal()
    code, out, err = edgectl(ssh_world.env, "--device", dest, "push", str(big), "--json", stderr=terminal)
    assert code == ExitCode.OK, err
    report = json.loads(out)
    remote = Path(report["path"])
    assert remote.parent.name == "incoming" and remote.is_relative_to(ssh_world.servers[0].remote_data_dir)
    assert report["sha256"] == sha256(big) == sha256(remote) and report["size"] == SIZE
    assert report["resumed_from"] == 0 and report["attempts"] == 1
    assert _partials(ssh_world) == []
    assert err.startswith("\rweights.bin") and err.endswith("\n")  # redrawn in place, ended cleanly

    code, out, err = edgectl(ssh_world.env, "--device", dest, "push", str(big))
    assert code == ExitCode.OK, err
    assert out.splitlines() == ["pushed weights.bin to %s: %s" % (dest, remote),
                                "sha256 %s (computed on the device); the device already held it" % sha256(big)]


class CutPusher(Pusher):
    """A push that does ``action`` mid-transfer: once it has handed ``2 * at_least`` bytes to the
    link, its sender waits until the device's partial file holds ``at_least`` of them (loopback:
    the device's disk is this one) and then does it, so the cut always lands while bytes are
    still to be sent, however fast the rest would go."""

    def __init__(self, world: SshWorld, at_least: int, action: Callable[[], object], *args: object,
                 **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.world, self.at_least, self.action = world, at_least, action
        self.done: list[int] = []

    def _moved(self, sent: int) -> None:
        super()._moved(sent)
        if self.done or sent < 2 * self.at_least:
            return
        deadline = time.monotonic() + 60
        while not any(part.exists() and part.stat().st_size >= self.at_least for part in _partials(self.world)):
            assert time.monotonic() < deadline, "the device's partial file never reached %d bytes" % self.at_least
            time.sleep(0.002)  # ok: the partial file grows in sshd's process, which gives no other signal
        self.done.append(max(part.stat().st_size for part in _partials(self.world)))
        self.action()


@pytest.mark.parametrize("own_reconnect", [False, True], ids=["edgectl-session", "gui-session"])
def test_a_cut_link_is_reconnected_and_the_push_resumes(ssh_world: SshWorld, big: Path, own_reconnect: bool) -> None:
    """edgectl's session leaves reconnecting to the push; the GUI's session reconnects on its own
    (and re-sends a request whose reply was lost) while the push waits for it."""
    session = _session(ssh_world)
    if own_reconnect:
        session.enable_reconnect(Backoff(initial_s=0.2, max_s=1.0))
    reports: list[PushProgress] = []
    killed: list[int] = []
    try:
        result = CutPusher(ssh_world, 4 * MB, lambda: killed.append(ssh_world.servers[0].kill_sessions()), session,
                           big, reports.append, tick_s=0.005).run()
    finally:
        session.close()
    assert killed and killed[0] >= 1, "the link was never cut"
    assert result.attempts == 2 and result.sha256 == sha256(big) == sha256(Path(result.path))
    resumed_at = next(p.sent for p in reports if p.attempt == 2 and p.state == SENDING)
    assert 4 * MB <= resumed_at < SIZE, "the second connection resumes from what the device holds"
    assert "reconnecting" in {p.state for p in reports}


def test_a_push_that_gives_up_says_so_and_the_next_push_resumes(ssh_world: SshWorld, big: Path) -> None:
    server = ssh_world.servers[0]
    session = _session(ssh_world)
    try:
        with pytest.raises(PushGaveUp) as gave_up:
            CutPusher(ssh_world, 4 * MB, server.stop, session, big, attempts=2, tick_s=0.005).run()
    finally:
        session.close()
    message = str(gave_up.value)
    assert "gave up pushing weights.bin" in message and "after 2 attempts in a row" in message
    assert "push the same file again to resume" in message
    [partial] = _partials(ssh_world)
    kept = partial.stat().st_size
    assert 4 * MB <= kept < SIZE

    server.start()  # the device is back, on the same port
    _use_client_key(ssh_world)
    code, out, err = edgectl(ssh_world.env, "--device", _destination(ssh_world), "push", str(big), "--json")
    assert code == ExitCode.OK, err
    report = json.loads(out)
    assert report["resumed_from"] == kept and report["sha256"] == sha256(Path(report["path"])) == sha256(big)


def test_an_unreachable_device_is_given_up_on_with_a_clear_message(ssh_world: SshWorld, big: Path) -> None:
    _use_client_key(ssh_world)
    ssh_world.trust(ssh_world.servers[0])
    dest = _destination(ssh_world)
    ssh_world.servers[0].stop()
    code, out, err = edgectl(ssh_world.env, "--device", dest, "push", str(big), "--attempts", "2")
    assert code == ExitCode.UNREACHABLE and out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith("edgectl: gave up pushing weights.bin to %s after 2 attempts" % dest)
    assert "cannot reach 127.0.0.1" in last and "push the same file again to resume" in last


def test_a_damaged_partial_is_refused_and_the_next_push_starts_over(ssh_world: SshWorld, big: Path) -> None:
    server = ssh_world.servers[0]
    session = _session(ssh_world)
    try:
        with pytest.raises(PushGaveUp):
            CutPusher(ssh_world, 4 * MB, server.stop, session, big, attempts=1, tick_s=0.005).run()
    finally:
        session.close()
    [partial] = _partials(ssh_world)
    with partial.open("r+b") as handle:  # a byte that rotted on the device's disk
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    server.start()
    _use_client_key(ssh_world)
    dest = _destination(ssh_world)
    code, out, err = edgectl(ssh_world.env, "--device", dest, "push", str(big))
    assert code == ExitCode.ERROR and out == ""
    assert "refused weights.bin" in err and "damaged" in err
    assert _partials(ssh_world) == [] and not list(server.remote_data_dir.rglob("incoming/*.tar.gz"))

    code, out, err = edgectl(ssh_world.env, "--device", dest, "push", str(big), "--json")
    assert code == ExitCode.OK, err
    report = json.loads(out)
    assert report["resumed_from"] == 0 and sha256(Path(report["path"])) == sha256(big)


def test_push_to_the_local_device(console_env: ConsoleEnv, big: Path) -> None:
    code, out, err = edgectl(console_env, "push", str(big), "--json")
    assert code == ExitCode.OK, err
    report = json.loads(out)
    remote = Path(report["path"])
    assert remote.parent == console_env.local_root / "incoming"
    assert report["sha256"] == sha256(remote) == sha256(big) and report["device"] == "local"


def test_push_of_something_that_is_not_a_file(console_env: ConsoleEnv, short_tmp: Path) -> None:
    code, _, err = edgectl(console_env, "push", str(short_tmp / "nothing.bin"))
    assert code == ExitCode.USAGE and "is not a file" in err
