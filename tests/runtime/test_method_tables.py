"""The protocol's method tables agree: every declared method has exactly one handler in a real
daemon, every handler serves a declared method, and the replay and audit flags say the same thing
(a state-changing request is replayed after a lost reply, and audited unless it is a later step
of a transfer whose first step is audited)."""

from __future__ import annotations

from pathlib import Path

import pytest

from device_runtime.audit import AUDITED_METHODS, UNAUDITED_STEPS
from device_runtime.protocol import METHODS, REPLAYED_METHODS
from device_runtime.server import roles
from device_runtime.server.daemon import Daemon
from device_runtime.server.service import Service
from device_runtime.server.session import SESSION_METHODS


def _daemon(short_tmp: Path) -> Daemon:
    return Daemon(str(short_tmp / "rt" / "s.sock"), str(short_tmp / "root"), base_rate_hz=10.0)


def test_every_method_has_exactly_one_handler(short_tmp: Path) -> None:
    daemon = _daemon(short_tmp)
    served = set(daemon.handlers)
    assert not served & SESSION_METHODS, "a service answers a method the session answers itself"
    assert served | SESSION_METHODS == set(METHODS), (
        "declared without a handler: %s; handled without a declaration: %s"
        % (sorted(set(METHODS) - served - SESSION_METHODS), sorted(served - set(METHODS))))


def test_a_second_handler_for_one_method_is_refused_when_the_daemon_is_built(
        short_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Shadow(Service):
        name = "shadow"

        def handlers(self):  # type: ignore[no-untyped-def]
            return {"store.models": lambda params: params}

    real = Daemon._make_services
    monkeypatch.setattr(Daemon, "_make_services", lambda self: [*real(self), Shadow()])
    with pytest.raises(RuntimeError, match=r"two handlers for 'store\.models'"):
        _daemon(short_tmp)


def test_replay_audit_and_admin_flags_agree() -> None:
    assert set(METHODS) >= REPLAYED_METHODS
    assert set(AUDITED_METHODS) <= REPLAYED_METHODS, "an audited method changes state, so it is replayed"
    assert UNAUDITED_STEPS <= REPLAYED_METHODS
    assert REPLAYED_METHODS - set(AUDITED_METHODS) == UNAUDITED_STEPS, (
        "a state-changing method is neither audited nor a later step of an audited transfer")
    assert set(AUDITED_METHODS) >= roles.ADMIN_METHODS, "what changes the device's trust is audited"
    for step in UNAUDITED_STEPS:  # each later step belongs to a transfer whose first step is audited
        assert step.rsplit(".", 1)[0] + ".begin" in AUDITED_METHODS
