"""Rollout records: who changed what on which devices, each device's outcome and timing, kept on the laptop.

One JSON file per rollout under the console's data directory (``rollouts/``), written whole and
atomically at each step, so a record read while a rollout runs (or after it was killed) shows how far
it came. A file that cannot be read is named when listing, never silently skipped.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.core.fleet.runner import DeviceOutcome
from device_runtime.fileio import write_atomic

RECORD_VERSION = 1


@dataclass
class PhaseOutcome:
    """One device's outcome in one phase of a rollout (upload, activate, rollback)."""

    phase: str
    wave: int | None
    outcome: DeviceOutcome

    def to_json(self) -> dict[str, Any]:
        return {"phase": self.phase, "wave": self.wave, **self.outcome.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PhaseOutcome:
        wave = data.get("wave")
        return cls(str(data["phase"]), int(wave) if wave is not None else None, DeviceOutcome.from_json(data))


@dataclass
class RolloutRecord:
    id: str
    kind: str  # deploy, rollback
    who: str
    started: float
    what: dict[str, Any]  # the package, or the model, and the version once known
    devices: list[str]
    selector: dict[str, Any] = field(default_factory=dict)  # the tags and names the devices were chosen by
    plan: dict[str, Any] = field(default_factory=dict)  # waves, canary, max failures
    phases: list[PhaseOutcome] = field(default_factory=list)
    finished: float | None = None
    stopped: str = ""  # why the rollout stopped before the end; "" when it ran to the end
    closed: str = ""  # what became of a stopped rollout: "resumed by ID", "abandoned by WHO"

    @property
    def open(self) -> bool:
        """Stopped, or cut off with the console (no end recorded), and neither resumed nor abandoned."""
        return (self.finished is None or bool(self.stopped)) and not self.closed

    def state(self) -> str:
        if self.closed:
            return self.closed
        if self.finished is None:
            return "cut off: no end was recorded (the console stopped); resume or abandon it"
        return "stopped: %s" % self.stopped if self.stopped else "done"

    def unfinished(self) -> list[str]:
        """The devices a resumed deploy still has to take to the end: all but those whose last step was a
        committed activation."""
        return [d for d, p in self.final().items() if not (p.phase == "activate" and p.outcome.ok)]

    def add(self, phase: str, wave: int | None, outcomes: list[DeviceOutcome]) -> None:
        self.phases.extend(PhaseOutcome(phase, wave, o) for o in outcomes)

    def final(self) -> dict[str, PhaseOutcome]:
        """Each device's last phase and its outcome (a device the rollout never reached is skipped)."""
        last = {p.outcome.device: p for p in self.phases}
        return {d: last.get(d, PhaseOutcome("none", None, DeviceOutcome(d, "skipped", "not reached")))
                for d in self.devices}

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for phase in self.final().values():
            out[phase.outcome.status] = out.get(phase.outcome.status, 0) + 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {"version": RECORD_VERSION, "id": self.id, "kind": self.kind, "who": self.who, "started": self.started,
                "finished": self.finished, "what": self.what, "devices": self.devices, "selector": self.selector,
                "plan": self.plan, "stopped": self.stopped, "closed": self.closed, "state": self.state(),
                "phases": [p.to_json() for p in self.phases],
                "final": {d: p.to_json() for d, p in self.final().items()}}

    @classmethod
    def from_json(cls, data: Any) -> RolloutRecord:
        if not isinstance(data, dict) or data.get("version") != RECORD_VERSION:
            raise ValueError("not a version %d rollout record" % RECORD_VERSION)
        return cls(str(data["id"]), str(data["kind"]), str(data["who"]), float(data["started"]), dict(data["what"]),
                   [str(d) for d in data["devices"]], dict(data.get("selector", {})), dict(data.get("plan", {})),
                   [PhaseOutcome.from_json(p) for p in data.get("phases", [])],
                   data.get("finished"), str(data.get("stopped", "")), str(data.get("closed", "")))


def new_id(kind: str, subject: str, now: float) -> str:
    """``20261207-101500-deploy-detector-3f9a``: sorts by time, names what it was, never collides."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", subject)[:40].strip("-") or "fleet"
    return "%s-%s-%s-%s" % (time.strftime("%Y%m%d-%H%M%S", time.localtime(now)), kind, slug, secrets.token_hex(2))


class RolloutLog:
    """The rollout records in one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, record_id: str) -> Path:
        return self.directory / ("%s.json" % record_id)

    def save(self, record: RolloutRecord) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(record.id)
        text = json.dumps(record.to_json(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        write_atomic(str(path), text.encode("utf-8"))
        return path

    def load(self, record_id: str) -> RolloutRecord:
        return RolloutRecord.from_json(json.loads(self.path(record_id).read_text(encoding="utf-8")))

    def records(self) -> tuple[list[RolloutRecord], list[str]]:
        """Every record, oldest first, and a sentence for each file that could not be read."""
        found, problems = [], []
        if not self.directory.is_dir():
            return [], []
        for name in sorted(os.listdir(self.directory)):
            if not name.endswith(".json"):
                continue
            path = self.directory / name
            try:
                found.append(RolloutRecord.from_json(json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                problems.append("%s cannot be read (%s); move it away or remove it" % (path, exc))
        found.sort(key=lambda r: r.started)
        return found, problems
