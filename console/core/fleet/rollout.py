"""A staged rollout over many devices, and a fleet-wide rollback.

Deploy: upload and import the package on every target in parallel first (each device verifies it; nothing
is active yet), then activate it in waves. Each activation is the device's own: swap, restart hook, health
gate within the grace period, commit or roll back by itself, as a single deploy is. After each wave the
failures are counted; past ``max_failures`` the rollout stops, the devices not yet reached keep their version
(the package stays stored on them), and with ``rollback_failed_wave`` the wave's committed devices go back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.core.devices.session import DeviceSession
from console.core.fleet.bandwidth import SharedRate
from console.core.fleet.records import RolloutLog, RolloutRecord, new_id
from console.core.fleet.runner import (
    DEFAULT_PARALLEL,
    SKIPPED,
    DeviceFailed,
    DeviceOutcome,
    one_line,
    run_each,
)
from console.core.fleet.waves import WaveSize, parse_waves, plan_waves
from console.core.models.store_client import StoreClient
from console.core.models.tracker import explain_action
from device_runtime.protocol import (
    STORE_ACTION_SUCCEEDED,
    STORE_ACTIVATE,
    STORE_IMPORT,
    StoreAction,
    StoreActivate,
    StoreImport,
)


@dataclass
class FleetProgress:
    """Where a fleet action is: ``stage`` hears a sentence per step, ``outcome`` each device's result."""

    stage: Callable[[str], None] = lambda text: None
    outcome: Callable[[str, DeviceOutcome], None] = lambda phase, outcome: None


@dataclass
class DeployPlan:
    package: Path
    devices: list[str]
    waves: list[WaveSize]
    canary: int = 1
    max_failures: int = 0
    rollback_failed_wave: bool = False
    why: str = ""
    selector: dict[str, Any] = field(default_factory=dict)
    limit_bytes_per_s: float | None = None  # all uploads together


def _held(action: StoreAction, device: str) -> dict[str, Any]:
    """A store action's outcome as a device's detail; a failed or rolled-back one raises DeviceFailed."""
    detail = {"model": action.name, "version": action.version, "previous": action.previous, "result": action.result,
              "steps_s": action.steps_s}
    if action.state != STORE_ACTION_SUCCEEDED or action.result == "rolled_back":
        raise DeviceFailed(one_line(explain_action(action, device), action.code, device), detail)
    return detail


def resume_plan(old: RolloutRecord, max_failures: int | None = None) -> DeployPlan:
    """An open deploy's plan again, over the devices it did not finish (a device that holds the package
    already resumes its upload from there, or finds it stored); ValueError says why there is none."""
    if old.kind != "deploy" or not old.open:
        raise ValueError("rollout %s is %s: there is nothing to resume" % (old.id, old.state()))
    package = Path(old.what["package"])
    if not package.is_file():
        raise ValueError("rollout %s deployed %s, which is no longer there" % (old.id, package))
    devices = old.unfinished()
    if not devices:
        raise ValueError("rollout %s has no device left to finish" % old.id)
    return DeployPlan(package, devices, parse_waves(",".join(old.plan["waves"])), old.plan["canary"],
                      old.plan["max_failures"] if max_failures is None else max_failures,
                      old.plan["rollback_failed_wave"], selector={**old.selector, "resumes": old.id},
                      limit_bytes_per_s=old.plan.get("limit_bytes_per_s"))


class Fleet:
    """Fleet actions over sessions made beforehand (one per device, not yet connected)."""

    def __init__(self, sessions: Mapping[str, DeviceSession], who: str, log: RolloutLog,
                 parallel: int = DEFAULT_PARALLEL, progress: FleetProgress | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.sessions = sessions
        self.who = who
        self.log = log
        self.parallel = parallel
        self.progress = progress or FleetProgress()
        self.clock = clock
        self._clients: dict[str, StoreClient] = {}  # one per device: each follows the store's events once

    def _client(self, device: str) -> StoreClient:
        """Connected (again, should the link have dropped since the last phase); only ``device``'s worker
        calls this for ``device``, so the dict needs no lock."""
        session = self.sessions[device]
        session.connect()
        client = self._clients.get(device)
        if client is None:
            client = self._clients[device] = StoreClient(session, self.who)
        return client

    def _phase(self, record: RolloutRecord, phase: str, wave: int | None, devices: list[str],
               work: Callable[[str], dict[str, Any]], what: str) -> list[DeviceOutcome]:
        try:
            outcomes = run_each(devices, work, what, self.parallel, lambda o: self.progress.outcome(phase, o),
                                self.clock)
        except KeyboardInterrupt:
            record.stopped = ("interrupted during the %s%s: the devices under way finished that step by themselves, "
                              "the others were not touched; edgectl fleet status shows where each one is"
                              % (phase, " of wave %d" % wave if wave else ""))
            record.finished = self.clock()
            self.log.save(record)
            self.progress.stage("the rollout was %s" % record.stopped)
            raise
        record.add(phase, wave, outcomes)
        self.log.save(record)
        return outcomes

    def deploy(self, plan: DeployPlan, record_id: str | None = None) -> RolloutRecord:
        waves = plan_waves(plan.devices, plan.canary, plan.waves)  # a bad plan raises before anything moves
        now = self.clock()
        record_id = record_id or new_id("deploy", plan.package.stem.replace(".tar", ""), now)
        record = RolloutRecord(record_id, "deploy", self.who, now,
                               {"package": str(plan.package)}, list(plan.devices), plan.selector,
                               {"canary": plan.canary, "waves": [str(w) for w in plan.waves],
                                "max_failures": plan.max_failures, "rollback_failed_wave": plan.rollback_failed_wave,
                                "limit_bytes_per_s": plan.limit_bytes_per_s,
                                "planned": waves})
        self.log.save(record)
        why = plan.why or "fleet rollout %s" % record.id
        wave_of = {d: number for number, wave in enumerate(waves, 1) for d in wave}

        cap = SharedRate(plan.limit_bytes_per_s) if plan.limit_bytes_per_s else None

        def upload(device: str) -> dict[str, Any]:
            client = self._client(device)
            progress, started = cap.follow() if cap is not None else (None, None)
            remote = client.upload(plan.package, progress, started)
            return _held(client.run(STORE_IMPORT, StoreImport(remote, False, self.who, why)), device)

        self.progress.stage("uploading %s to %d devices (%d at a time%s); each verifies and stores it"
                            % (plan.package.name, len(plan.devices), self.parallel,
                               ", %.1f MB/s in all" % (plan.limit_bytes_per_s / 1e6) if plan.limit_bytes_per_s else ""))
        uploaded = {o.device: o for o in self._phase(record, "upload", None, plan.devices, upload, "The upload")}
        stored = next((o.detail for o in uploaded.values() if o.ok), None)
        if stored is not None:
            record.what.update(model=stored["model"], version=stored["version"])
        failures = sum(not o.ok for o in uploaded.values())
        if failures > plan.max_failures:
            return self._stop(record, [d for d in plan.devices if uploaded[d].ok], wave_of,
                              "%d of %d uploads failed (more than --max-failures %d): nothing was activated"
                              % (failures, len(plan.devices), plan.max_failures))

        def activate(device: str) -> dict[str, Any]:
            detail = uploaded[device].detail
            return _held(self._client(device).run(
                STORE_ACTIVATE, StoreActivate(detail["model"], detail["version"], self.who, why)), device)

        for number, wave in enumerate(waves, 1):
            ready = [d for d in wave if uploaded[d].ok]
            self.progress.stage("wave %d of %d: activating on %s" % (number, len(waves), ", ".join(ready) or "nobody"))
            outcomes = self._phase(record, "activate", number, ready, activate, "The activation")
            failures += sum(not o.ok for o in outcomes)
            if failures > plan.max_failures:
                if plan.rollback_failed_wave:
                    self._roll_back_wave(record, number, outcomes, why)
                left = [d for w in waves[number:] for d in w if uploaded[d].ok]
                return self._stop(record, left, wave_of, "%d device%s failed by wave %d (more than --max-failures %d)"
                                  % (failures, "" if failures == 1 else "s", number, plan.max_failures))
        record.finished = self.clock()
        self.log.save(record)
        self.progress.stage("rollout %s done" % record.id)
        return record

    def resume(self, old: RolloutRecord, plan: DeployPlan) -> RolloutRecord:
        """Take an open deploy to the end with ``plan`` (from :func:`resume_plan`); the old record is closed,
        naming the new one, before anything moves."""
        plan_waves(plan.devices, plan.canary, plan.waves)
        record_id = new_id("deploy", plan.package.stem.replace(".tar", ""), self.clock())
        old.closed = "resumed by %s" % record_id
        self.log.save(old)
        return self.deploy(plan, record_id)

    def abandon(self, old: RolloutRecord) -> RolloutRecord:
        """Close an open rollout as it stands: each device keeps what its own store has."""
        if not old.open:
            raise ValueError("rollout %s is %s: there is nothing to abandon" % (old.id, old.state()))
        old.closed = "abandoned by %s" % self.who
        if old.finished is None:
            old.finished = self.clock()
        self.log.save(old)
        return old

    def _roll_back_wave(self, record: RolloutRecord, number: int, outcomes: list[DeviceOutcome], why: str) -> None:
        # Only a device this wave moved goes back: one that already ran the version (unchanged), or had no
        # version before it, keeps what it has.
        done = {o.device: o.detail for o in outcomes
                if o.ok and o.detail.get("result") == "committed" and o.detail.get("previous")}
        if not done:
            return

        def back(device: str) -> dict[str, Any]:
            detail = done[device]
            return _held(self._client(device).rollback(detail["model"], detail["previous"],
                                                       why="rolled back with its failed wave: %s" % why), device)

        self.progress.stage("wave %d failed: rolling back %s" % (number, ", ".join(done)))
        self._phase(record, "rollback", number, list(done), back, "The rollback")

    def _stop(self, record: RolloutRecord, left: list[str], wave_of: dict[str, int], why: str) -> RolloutRecord:
        """``left``: the devices that were to activate later, each skipped in its planned wave."""
        reason = "the rollout stopped: %s" % why
        for device in left:
            record.add("activate", wave_of[device], [DeviceOutcome(
                device, SKIPPED, "not activated: %s; the package stays stored" % reason)])
        record.stopped = why
        record.finished = self.clock()
        self.log.save(record)
        self.progress.stage(reason)
        return record

    def rollback(self, model: str, devices: list[str], to: str | None = None, why: str = "",
                 selector: dict[str, Any] | None = None) -> RolloutRecord:
        """Roll ``model`` back on every device at once (to its previous version, or ``to``)."""
        now = self.clock()
        record = RolloutRecord(new_id("rollback", model, now), "rollback", self.who, now, {"model": model, "to": to},
                               list(devices), selector or {})
        reason = why or "fleet rollback %s" % record.id

        def back(device: str) -> dict[str, Any]:
            return _held(self._client(device).rollback(model, to, why=reason), device)

        self.progress.stage("rolling %s back on %d devices" % (model, len(devices)))
        self._phase(record, "rollback", None, list(devices), back, "The rollback")
        record.finished = self.clock()
        self.log.save(record)
        return record
