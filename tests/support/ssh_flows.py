"""Driving the console's SSH flows in tests: scripted answers to its prompts, a terminal for ``edgectl``, a
watcher of session states, and a planted foreign host key."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from pathlib import Path

import paramiko

from console.cli.main import main
from console.core.devices.session import DeviceSession, State
from console.core.env import ConsoleEnv
from console.transport.ssh_prompts import SshPrompts
from tests.support.ssh import SshServer, SshWorld, keygen


class Answers(SshPrompts):
    """Scripted answers, recording every question asked."""

    def __init__(self, passphrases: list[str | None] | None = None, passwords: list[str | None] | None = None,
                 trust: bool = False) -> None:
        self.passphrases = list(passphrases or [])
        self.passwords = list(passwords or [])
        self.trust = trust
        self.asked: list[tuple[str, ...]] = []

    def confirm_host_key(self, unknown):  # type: ignore[no-untyped-def]
        self.asked.append(("hostkey", unknown.host, unknown.key_type, unknown.fingerprint))
        return self.trust

    def passphrase(self, key_path: str, retry: bool) -> str | None:
        self.asked.append(("passphrase", key_path, str(retry)))
        return self.passphrases.pop(0) if self.passphrases else None

    def password(self, user: str, host: str, retry: bool) -> str | None:
        self.asked.append(("password", user, host, str(retry)))
        return self.passwords.pop(0) if self.passwords else None


def _plant_other_key(path: Path, server: SshServer, tmp: Path) -> str:
    other = keygen(tmp / "impostor_host_key")
    path.parent.mkdir(parents=True, exist_ok=True)
    kind, blob = other.with_suffix(".pub").read_text().split()[:2]
    path.write_text("[127.0.0.1]:%d %s %s\n" % (server.port, kind, blob))
    return paramiko.PKey.from_path(str(other)).fingerprint


class Watcher:
    """Every state change and sample of a session, with waits that have deadlines."""

    def __init__(self, session: DeviceSession) -> None:
        self.states: list[tuple[float, State, str]] = []
        self.samples: list[tuple[float, float]] = []  # (arrival, device time)
        self._changed = threading.Condition()
        session.state_listeners.append(self._on_state)
        session.sample_listeners.append(self._on_sample)

    def _on_state(self, state: State, message: str) -> None:
        with self._changed:
            self.states.append((time.monotonic(), state, message))
            self._changed.notify_all()

    def _on_sample(self, t: float, _values: dict[str, float]) -> None:
        with self._changed:
            self.samples.append((time.monotonic(), t))
            self._changed.notify_all()

    def wait(self, what: str, predicate: Callable[[], bool], timeout: float) -> None:
        with self._changed:
            if not self._changed.wait_for(predicate, timeout):
                raise AssertionError("no %s within %.0f s; states: %s" % (what, timeout, self.states[-6:]))

    def first(self, state: State, after: float) -> tuple[float, str]:
        for at, seen, message in self.states:
            if seen is state and at >= after:
                return at, message
        raise AssertionError("never %s after %f: %s" % (state.value, after, self.states))


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run(env: ConsoleEnv, *argv: str, stdin: io.StringIO | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    env.stdout, env.stderr, env.stdin = out, err, stdin or io.StringIO()
    code = main(list(argv), env)
    return code, out.getvalue(), err.getvalue()


def _destination(world: SshWorld) -> str:
    return "%s@127.0.0.1:%d" % (world.env.local_user, world.servers[0].port)


def _use_client_key(world: SshWorld) -> None:
    """The key edgectl finds on its own, as a user's ~/.ssh/id_ed25519."""
    for suffix in ("", ".pub"):
        target = world.ssh_dir / ("id_ed25519" + suffix)
        target.write_bytes(Path(str(world.client_key) + suffix).read_bytes())
        target.chmod(0o600)
