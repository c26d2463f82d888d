"""Following a job from edgectl: progress, Ctrl-C (cancel or detach), reconnects, the result.

The job lives on the device; edgectl only watches it. Ctrl-C therefore asks whether to cancel
the job or to leave it running (on a terminal), or leaves it running and says how to come back
(in scripts). A dropped link is re-opened with backoff and the tracker re-attaches.
"""

from __future__ import annotations

import json
import sys
import time
from typing import TextIO

from console.cli.job_progress import Progress
from console.core.devices.client import ConnectionLost, DeviceError
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from console.core.jobs.report import result_text
from console.core.jobs.tracker import JobTracker, job_title, typed_result
from console.transport.base import TransportError
from device_runtime.protocol import (
    JOB_CANCELLED,
    JOB_INTERRUPTED,
    JOB_SUCCEEDED,
    AccuracyReport,
    ErrorCode,
    JobInfo,
    ProtocolError,
    ValidateReport,
)

RECONNECT_FOR_S = 60.0


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def reattach_hint(device: str, job_id: str) -> str:
    return "edgectl --device %s job wait %s" % (device, job_id)


def ask_cancel(env: ConsoleEnv, info: JobInfo, device: str) -> bool:
    """On a terminal, ask; elsewhere never cancel (a script's Ctrl-C must not kill device work)."""
    stdin = sys.stdin
    if not (_isatty(env.stderr) and stdin is not None and _isatty(stdin)):
        return False
    env.stderr.write("Cancel %s on %s, or detach and leave it running? [c]ancel / [D]etach: "
                     % (job_title(info), device))
    env.stderr.flush()
    try:
        answer = stdin.readline()
    except KeyboardInterrupt:
        env.stderr.write("\n")
        return False
    return answer.strip().lower() in ("c", "cancel", "y", "yes")


def reconnect(tracker: JobTracker, progress: Progress, for_s: float = RECONNECT_FOR_S) -> None:
    """Re-open the session with backoff (up to a minute), then re-attach the tracker."""
    session = tracker.session
    progress.message("edgectl: connection to %s lost (%s); reconnecting" % (session.name, session.message))
    deadline = time.monotonic() + for_s
    delay = 0.5
    while True:
        try:
            session.connect()
            tracker.attach()
            progress.message("edgectl: reconnected to %s" % session.name)
            return
        except (DeviceError, TransportError) as exc:
            if time.monotonic() + delay > deadline:
                raise ConnectionLost("could not reconnect to %s: %s" % (session.name, exc)) from exc
        time.sleep(delay)  # backoff between attempts, not a readiness wait
        delay = min(delay * 2, 8.0)


def follow(tracker: JobTracker, info: JobInfo, env: ConsoleEnv, device: str) -> JobInfo | None:
    """Watch ``info`` to its end with a progress display; None when the user detached."""
    progress = Progress(env.stderr, _isatty(env.stderr), time.monotonic)
    cancelled = False
    try:
        while True:
            try:
                final = tracker.wait(info.id, on_update=progress.update)
                progress.end()
                return final
            except ConnectionLost:
                reconnect(tracker, progress)
            except KeyboardInterrupt:
                progress.end()
                current = tracker.job(info.id) or info
                if not cancelled and ask_cancel(env, current, device):
                    cancelled = True
                    tracker.cancel(info.id)
                    progress.message("edgectl: cancel requested for %s; waiting for it to stop "
                                     "(Ctrl-C again to detach)" % job_title(current))
                    continue
                raise
    except KeyboardInterrupt:
        progress.end()
        env.stderr.write("edgectl: detached from %s; it keeps running on %s. Re-attach with: %s\n"
                         % (job_title(tracker.job(info.id) or info), device, reattach_hint(device, info.id)))
        return None


def report(info: JobInfo, as_json: bool, env: ConsoleEnv) -> int:
    """Print a finished job's result and return the exit code scripts rely on."""
    if info.state != JOB_SUCCEEDED:
        if info.state == JOB_CANCELLED:
            env.stderr.write("edgectl: %s was cancelled\n" % job_title(info))
            return ExitCode.JOB_CANCELLED
        why = info.error or "no reason given"
        if info.state == JOB_INTERRUPTED:
            why = "%s (the runtime stopped while it ran; run it again)" % (info.error or "interrupted")
        env.stderr.write("edgectl: %s %s: %s\n" % (job_title(info), info.state, why))
        return ExitCode.JOB_FAILED
    try:
        record = typed_result(info)
    except ProtocolError as exc:
        env.stderr.write("edgectl: the result of %s is malformed: %s\n" % (job_title(info), exc.message))
        return ExitCode.ERROR
    if record is None:
        env.stdout.write("%s succeeded\n" % job_title(info))
        return ExitCode.OK
    if as_json:
        env.stdout.write(json.dumps(record.to_wire(), ensure_ascii=False) + "\n")
    else:
        env.stdout.write(result_text(record) + "\n")
    if isinstance(record, ValidateReport) and not record.ok:
        return ExitCode.CHECK_FAILED
    if isinstance(record, AccuracyReport) and not record.passed:
        return ExitCode.CHECK_FAILED
    return ExitCode.OK


def device_refusal(exc: DeviceError, device: str, runtime: str | None, what: str) -> tuple[int, str]:
    """An error reply to a job request as an exit code and a sentence."""
    if exc.code == ErrorCode.UNKNOWN_METHOD:
        return ExitCode.INCOMPATIBLE, ("the runtime on %s (version %s) has no job service; update the runtime "
                                       "on the device" % (device, runtime or "unknown"))
    return ExitCode.JOB_FAILED, "%s %s: %s" % (device, what, exc)
