"""The job state machine, without I/O: which transitions are legal and what each one stamps."""

from __future__ import annotations

import dataclasses
from typing import Dict, Optional, Set

from device_runtime.protocol import (
    JOB_CANCELLED,
    JOB_FAILED,
    JOB_FINAL_STATES,
    JOB_INTERRUPTED,
    JOB_QUEUED,
    JOB_RUNNING,
    JOB_SUCCEEDED,
    JobInfo,
)

# A queued job may fail without running (its input vanished, a dependency failed to start).
TRANSITIONS: Dict[str, Set[str]] = {
    JOB_QUEUED: {JOB_RUNNING, JOB_CANCELLED, JOB_FAILED},
    JOB_RUNNING: {JOB_SUCCEEDED, JOB_FAILED, JOB_CANCELLED, JOB_INTERRUPTED},
}


class IllegalTransition(ValueError):
    pass


def is_final(state: str) -> bool:
    return state in JOB_FINAL_STATES


def advance(job: JobInfo, state: str, now: float, error: Optional[str] = None) -> JobInfo:
    """A copy of ``job`` in ``state``; raises :class:`IllegalTransition` for a move the machine forbids."""
    if state not in TRANSITIONS.get(job.state, set()):
        raise IllegalTransition("job %s cannot go from %s to %s" % (job.id, job.state, state))
    changes: Dict[str, object] = {"state": state}
    if state == JOB_RUNNING:
        changes.update(started=now, progress=0.0, stage="starting")
    else:
        changes.update(finished=now, eta_s=None)
        if state == JOB_SUCCEEDED:
            changes.update(progress=1.0, stage="done", error=None)
        else:
            changes.update(stage=state, error=error)
    return dataclasses.replace(job, **changes)  # type: ignore[arg-type]
