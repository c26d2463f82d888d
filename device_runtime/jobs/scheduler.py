"""Which queued jobs start now, and which can never run: a pure function of the job table.

GPU-heavy jobs (build, benchmark, accuracy, quantize) run one at a time: two of them on one GPU
would slow each other and make every timing meaningless. Light jobs (validate) run beside them,
a few at once. A job with ``after`` waits for that job to succeed; if it ended any other way the
job is cancelled with the reason, which is how a failed pipeline step cancels the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Mapping, Sequence, Tuple

from device_runtime.protocol import JOB_FINAL_STATES, JOB_QUEUED, JOB_RUNNING, JOB_SUCCEEDED, JobInfo

MAX_LIGHT_JOBS = 2


@dataclass
class Decision:
    start: List[JobInfo] = field(default_factory=list)
    cancel: List[Tuple[JobInfo, str]] = field(default_factory=list)


def decide(jobs: Sequence[JobInfo], states: Mapping[str, str], max_light: int = MAX_LIGHT_JOBS) -> Decision:
    """``jobs``: the queued and running jobs; ``states``: every known job's state by id
    (for ``after`` look-ups of jobs that are already over)."""
    decision = Decision()
    running = [job for job in jobs if job.state == JOB_RUNNING]
    gpu_busy = any(job.gpu for job in running)
    light = sum(1 for job in running if not job.gpu)
    for job in sorted((j for j in jobs if j.state == JOB_QUEUED), key=lambda j: j.created):
        if job.after:
            before = states.get(job.after)
            if before is None:
                decision.cancel.append((job, "the job it waits for (%s) no longer exists" % job.after))
                continue
            if before in JOB_FINAL_STATES and before != JOB_SUCCEEDED:
                decision.cancel.append(
                    (job, "not run because the earlier step %s ended %s; fix that step and submit again"
                     % (job.after, before))
                )
                continue
            if before != JOB_SUCCEEDED:
                continue
        if job.gpu:
            if gpu_busy:
                continue
            gpu_busy = True
        else:
            if light >= max_light:
                continue
            light += 1
        decision.start.append(job)
    return decision
