"""A property-based state machine over a real store: install, commit, rollback, restart, replay, clean-up,
injected failures. Invariants: the active, previous and pinned versions are never deleted, the active
version is the committed one, and the security floor never falls."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from device_runtime.package_format.errors import Code, StoreError
from device_runtime.package_format.semver import SemVer
from device_runtime.store import activation, recovery, retention
from device_runtime.store.config import StoreConfig, save_config
from device_runtime.store.store import Store
from tests.support.store import make_package, public_line

VERSIONS = ["1.0.0", "1.1.0", "1.2.0", "2.0.0", "2.1.0", "3.0.0"]
COUNTERS = {"1.0.0": 0, "1.1.0": 0, "1.2.0": 1, "2.0.0": 1, "2.1.0": 2, "3.0.0": 2}
ACTIVATION_FAULTS = ["activate.trial", "activate.swap", "activate.swap.rename", "activate.health", "activate.commit"]
_PACKAGES: dict[str, Path] = {}


def packages() -> dict[str, Path]:
    if not _PACKAGES:
        tmp = Path(tempfile.mkdtemp(prefix="eoc-sm-"))
        for version in VERSIONS:
            _PACKAGES[version] = make_package(tmp, version=version, security_counter=COUNTERS[version])
    return _PACKAGES


class Boom(RuntimeError):
    pass


class StoreMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="eoc-sm-root-"))
        self.store = Store(str(self.dir / "root"))
        self.store.trust_key(public_line())
        save_config(self.store.root, StoreConfig(keep=2))
        self.highest_floor = 0
        self.fault_at: str | None = None

    def teardown(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def _fault(self, point: str) -> None:
        if point == self.fault_at:
            self.fault_at = None
            raise Boom("injected failure at %s" % point)

    def _install(self, version: str, downgrade: bool) -> activation.Outcome | None:
        state = self.store.state("detector")
        try:
            self.store.import_package(str(packages()[version]))
        except StoreError as exc:
            assert exc.code == Code.BELOW_FLOOR, exc.message
            assert COUNTERS[version] < state.floor
            return None
        try:
            return activation.activate(self.store, activation.Plan("detector", version, activation.DEPLOY,
                                                                   allow_downgrade=downgrade))
        except StoreError as exc:
            assert exc.code in (Code.DOWNGRADE, Code.BELOW_FLOOR), exc.message
            if exc.code == Code.DOWNGRADE:
                assert not downgrade and SemVer(version) < SemVer(state.committed or "0.0.0")
            return None

    @rule(version=st.sampled_from(VERSIONS), downgrade=st.booleans())
    def install(self, version: str, downgrade: bool) -> None:
        outcome = self._install(version, downgrade)
        if outcome is not None:
            assert outcome.result in ("committed", "unchanged"), outcome.message
            assert self.store.active_version("detector") == version

    @rule(point=st.sampled_from(ACTIVATION_FAULTS), version=st.sampled_from(VERSIONS))
    def failed_install(self, point: str, version: str) -> None:
        before = self.store.active_version("detector")
        self.fault_at = point
        self.store.fault = self._fault
        try:
            outcome = self._install(version, True)
        finally:
            self.store.fault = lambda _p: None
            self.fault_at = None
        if outcome is not None and outcome.result != "unchanged":
            assert outcome.result == "rolled_back" and point in outcome.message
            assert self.store.active_version("detector") == before
            assert version in self.store.state("detector").failed

    @precondition(lambda self: self.store.state("detector").previous is not None)
    @rule()
    def rollback(self) -> None:
        state = self.store.state("detector")
        try:
            outcome = activation.rollback(self.store, "detector")
        except StoreError as exc:
            assert exc.code in (Code.BELOW_FLOOR, Code.CORRUPT, Code.NOT_FOUND), exc.message
            return
        assert outcome.result == "committed", outcome.message
        assert self.store.active_version("detector") == state.previous

    @rule(version=st.sampled_from(VERSIONS))
    def replay(self, version: str) -> None:
        """An old package sent again: below the floor it is refused; otherwise it only activates with intent."""
        state = self.store.state("detector")
        if COUNTERS[version] < state.floor:
            with pytest.raises(StoreError) as info:
                self.store.import_package(str(packages()[version]))
            assert info.value.code == Code.BELOW_FLOOR

    @rule(version=st.sampled_from(VERSIONS), on=st.booleans())
    def pin(self, version: str, on: bool) -> None:
        if version in self.store.stored_versions("detector"):
            self.store.pin("detector", version, on)

    @rule()
    def restart(self) -> None:
        self.store = Store(self.store.root)
        recovery.recover(self.store)

    @rule()
    def clean_up(self) -> None:
        retention.apply(self.store, "detector")
        recovery.cleanup_leftovers(self.store)

    @invariant()
    def never_deleted_and_floor_never_falls(self) -> None:
        if not hasattr(self, "store"):
            return
        state = self.store.state("detector")
        stored = set(self.store.stored_versions("detector"))
        for keep in (state.committed, state.previous, self.store.active_version("detector"), *state.pinned):
            if keep is not None:
                assert keep in stored, (keep, stored)
        assert self.store.active_version("detector") == state.committed
        assert state.trial is None
        assert state.floor >= self.highest_floor
        self.highest_floor = state.floor


StoreMachine.TestCase.settings = settings(max_examples=12, stateful_step_count=14, deadline=None,
                                          suppress_health_check=list(HealthCheck))
test_store_state_machine = pytest.mark.slow(StoreMachine.TestCase)


def test_the_machine_really_exercises_the_floor() -> None:
    """The floor rule is not vacuous: committing 3.0.0 raises it, and replays of 1.x are then refused."""
    machine = StoreMachine()
    machine.setup()
    try:
        machine.install("3.0.0", False)
        assert machine.store.state("detector").floor == 2
        machine.replay("1.0.0")
        machine.never_deleted_and_floor_never_falls()
    finally:
        machine.teardown()


