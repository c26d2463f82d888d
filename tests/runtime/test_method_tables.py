"""The protocol's method tables agree: every declared method has exactly one handler in a real
daemon, every handler serves a declared method, and the replay and audit flags say the same thing
(a state-changing request is replayed after a lost reply, and audited unless it is a later step
of a transfer whose first step is audited). The tables are derived from one declaration per method
(``protocol.Method``): each declared constant is in them exactly once, with its own flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from device_runtime import protocol
from device_runtime.audit import AUDITED_METHODS, UNAUDITED_STEPS
from device_runtime.protocol import DECLARED, METHODS, REPLAYED_METHODS, Empty, Method, Pong
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


def _declared_constants() -> dict[str, Method[Any, Any]]:
    return {name: value for name, value in vars(protocol).items() if isinstance(value, Method)}


def test_every_declared_method_is_one_module_constant_and_one_table_entry() -> None:
    constants = _declared_constants()
    by_method = sorted(method.name for method in constants.values())
    assert len(by_method) == len(set(by_method)), "one method declared under two constants"
    assert set(by_method) == set(DECLARED) == set(METHODS)
    assert list(DECLARED) == list(METHODS)
    for name, method in constants.items():
        assert DECLARED[method.name] is method
        assert METHODS[method.name] == (method.params, method.result)
        assert name.startswith(method.name.upper().replace(".", "_")), (
            "%s is named after its method %r" % (name, method.name))


def test_the_derived_tables_equal_the_declared_flags() -> None:
    assert {m.name for m in DECLARED.values() if m.changes_state} == REPLAYED_METHODS
    assert all(m.replayed == m.changes_state and m.audited == (m.audit is not None) for m in DECLARED.values())
    assert {m.name: m.audit for m in DECLARED.values() if m.audit is not None} == AUDITED_METHODS
    assert {m.name for m in DECLARED.values() if m.admin} == roles.ADMIN_METHODS
    assert {"store.keys.trust", "store.policy.set"} == roles.ADMIN_METHODS


def test_a_method_declared_twice_or_with_contradicting_flags_is_refused() -> None:
    before = (dict(DECLARED), dict(METHODS))
    with pytest.raises(ValueError, match=r"'ping' is declared twice"):
        Method("ping", Empty, Pong)
    with pytest.raises(ValueError, match="audited but declared as not changing state"):
        Method("test.audited", Empty, Empty, audit="config")
    with pytest.raises(ValueError, match="needs the admin role but is not audited"):
        Method("test.admin", Empty, Empty, changes_state=True, admin=True)
    assert before == (DECLARED, METHODS)
