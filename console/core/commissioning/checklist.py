"""Guided commissioning of one robot: a checklist run against the device, pass or fail per step
with the reason, saved as a report per robot serial number (JSON, and printable HTML).

The steps are data (:data:`STEPS`, implemented in :mod:`console.core.commissioning.steps`); the
runner runs them in order, tells ``listener`` about every change of a step so the GUI and
edgectl can show progress live, and keeps going after a failed step so the report is complete.
A step that does not apply says why it was skipped; skipped is never counted as passed.
"""

from __future__ import annotations

import re
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from console import __version__ as console_version
from console.core.devices.session import DeviceSession
from console.core.env import ConsoleEnv

SCHEMA = 1
WAITING, RUNNING, PASS, FAIL, SKIP = "waiting", "running", "pass", "fail", "skip"
STATUS_WORDS = {WAITING: "waiting", RUNNING: "running", PASS: "PASS", FAIL: "FAIL", SKIP: "SKIPPED"}
PASSED, FAILED, CANCELLED = "passed", "failed", "cancelled"
DEFAULT_LOAD_S = 60.0
MIN_LOAD_S, MAX_LOAD_S = 5.0, 3600.0

# key, title: the checklist in the order it runs.
STEPS: tuple[tuple[str, str], ...] = (
    ("runtime", "Runtime and versions"),
    ("power", "Power mode and clocks"),
    ("thermal", "Thermals under sustained load"),
    ("smoke", "Model smoke test on golden inputs"),
    ("latency", "Latency within budget"),
    ("rollback", "Rollback drill"),
)


class CommissionError(ValueError):
    """Commissioning cannot start; the message says what to give or fix."""


class Cancelled(Exception):
    """The operator stopped the run."""


@dataclass
class StepResult:
    key: str
    title: str
    status: str = WAITING
    reason: str = ""  # why it passed, failed or was skipped, in a sentence
    details: list[str] = field(default_factory=list)  # facts found along the way
    progress: str = ""  # what it is doing now, while running
    started: float | None = None
    finished: float | None = None

    @property
    def done(self) -> bool:
        return self.status in (PASS, FAIL, SKIP)


@dataclass
class CommissionOptions:
    serial: str | None = None  # None: the serial number the device reports
    golden: Path | None = None
    load_seconds: float = DEFAULT_LOAD_S
    model: str | None = None  # None: the device's only deployed model
    rollback_drill: bool = True  # False: the drill is skipped, saying so


@dataclass
class CommissionReport:
    serial: str
    device: str
    started: float
    operator: str
    steps: list[StepResult]
    facts: dict[str, str] = field(default_factory=dict)  # board, versions, model ...
    finished: float | None = None
    overall: str = FAILED
    end_state: str = ""  # what the robot runs when the run ended, read from it: "robot-07 runs det 1.0.0, healthy"
    schema: int = SCHEMA
    console_version: str = console_version

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CommissionReport:
        steps = [StepResult(**s) for s in data["steps"]]
        return cls(**{**data, "steps": steps})


def outcome_sentence(report: CommissionReport) -> str:
    """The run in one sentence for the Health page: verdict, time, the failed steps and what the robot runs."""
    when = time.strftime("%H:%M", time.localtime(report.finished or report.started))
    text = "Commissioning of robot %s %s at %s" % (report.serial, report.overall.upper(), when)
    failed = [s for s in report.steps if s.status == FAIL]
    if failed:
        text += ": " + "; ".join("%s: %s" % (s.title, s.reason.rstrip(".")) for s in failed)
    if report.end_state:
        text += ". Afterwards %s" % report.end_state.rstrip(".")
    return text + "."


def safe_serial(serial: str) -> str:
    """A serial number as a folder name: letters, digits, dot, dash and underscore only."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", serial.strip()).strip("._")
    return cleaned or "unnamed"


def check_options(options: CommissionOptions) -> None:
    if not MIN_LOAD_S <= options.load_seconds <= MAX_LOAD_S:
        raise CommissionError("the load must last %g to %g seconds (got %g)"
                              % (MIN_LOAD_S, MAX_LOAD_S, options.load_seconds))
    if options.golden is not None and not options.golden.is_dir():
        raise CommissionError("the golden folder %s does not exist or is not a folder" % options.golden)
    if options.serial is not None and not options.serial.strip():
        raise CommissionError("the serial number is empty; give the robot's serial number")


Listener = Callable[[StepResult], None]


class Commissioning:
    """One run over a connected session. ``run`` blocks (call it on a worker thread); ``cancel``
    may be called from any thread and stops the running step as soon as it is safe."""

    def __init__(self, session: DeviceSession, env: ConsoleEnv, options: CommissionOptions,
                 listener: Listener | None = None) -> None:
        from console.core.commissioning.steps import resolve_model

        check_options(options)
        self.session = session
        self.env = env
        self.options = options
        self.listener = listener
        self.steps = [StepResult(key, title) for key, title in STEPS]
        self.cancelled = threading.Event()
        self.cancel_hooks: list[Callable[[], None]] = []  # what stops the running step (a job's cancel)
        self.serial = self._serial()
        self.model = resolve_model(session, options.model)
        self.report = CommissionReport(self.serial, session.entry.display_name, time.time(), env.local_user,
                                       self.steps)

    def _serial(self) -> str:
        if self.options.serial:
            return self.options.serial.strip()
        caps = self.session.capabilities
        if caps is not None and caps.serial:
            return caps.serial
        raise CommissionError("%s reports no serial number (its device tree and DMI hold none this user can read): "
                              "give the robot's serial number, e.g. from its label" % self.session.entry.display_name)

    # -- what steps call ----------------------------------------------------------------------
    def update(self, step: StepResult, **changes: Any) -> None:
        for key, value in changes.items():
            setattr(step, key, value)
        if self.listener is not None:
            self.listener(step)

    def check_cancelled(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled()

    def cancel(self) -> None:
        self.cancelled.set()
        for hook in list(self.cancel_hooks):
            threading.Thread(target=hook, name="commission-cancel", daemon=True).start()

    # -- running ------------------------------------------------------------------------------
    def run(self) -> CommissionReport:
        from console.core.commissioning.steps import StepContext, robot_state, step_functions

        ctx = StepContext(self)
        functions = step_functions()
        for step in self.steps:
            if self.cancelled.is_set():
                self.update(step, status=SKIP, reason="not run: commissioning was cancelled")
                continue
            self.update(step, status=RUNNING, started=time.time(), progress="")
            try:
                status, reason = functions[step.key](ctx, step)
            except Cancelled:
                status, reason = FAIL, "cancelled by the operator while running"
            except Exception as exc:  # one broken step must not lose the report of the others
                status, reason = FAIL, "the step could not run: %s" % (str(exc).strip() or type(exc).__name__)
                step.details.append("".join(traceback.format_exception_only(type(exc), exc)).strip())
            self.update(step, status=status, reason=reason, progress="", finished=time.time())
        self.report.end_state = robot_state(ctx)
        ctx.close()
        self.report.facts.update(ctx.facts)
        self.report.finished = time.time()
        if self.cancelled.is_set():
            self.report.overall = CANCELLED
        else:
            self.report.overall = FAILED if any(s.status == FAIL for s in self.steps) else PASSED
        return self.report

    def save(self, folder: Path) -> tuple[Path, Path]:
        """Write ``<folder>/<serial>/commissioning-<time>.json`` and ``.html``; returns both paths."""
        from console.core.commissioning.report import write_report

        return write_report(self.report, folder)
