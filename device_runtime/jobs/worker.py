"""The worker process: runs one job and reports on stdout as NDJSON (see ``messages``).

Started by the daemon as ``python -m device_runtime.jobs.worker`` with the request (kind, spec,
context) as JSON on stdin, in its own process group so a cancel ends everything it started.
It dies with the daemon (PR_SET_PDEATHSIG), so a job is never left running unobserved.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
import traceback
from typing import Any, Dict, Optional

from device_runtime.jobs.kinds import kinds_by_name
from device_runtime.jobs.kinds.base import JobFailed, WorkerContext
from device_runtime.jobs.messages import ERROR, RESULT, Reporter
from device_runtime.protocol import Capabilities, ProtocolError

PR_SET_PDEATHSIG = 1


class Cancelled(BaseException):
    """SIGTERM from the daemon: unwind so ``finally`` blocks remove temp files."""


def _on_term(signum: int, frame: Any) -> None:
    raise Cancelled()


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return


def _apply_limits(context: Dict[str, Any]) -> None:
    max_output = context.get("max_output_bytes")
    if isinstance(max_output, int) and max_output > 0:
        # Writes past the limit fail with EFBIG instead of killing the process.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_output, max_output))


def run(request: Dict[str, Any], reporter: Reporter) -> int:
    kind = kinds_by_name().get(str(request.get("kind")))
    if kind is None:
        reporter.finish(ERROR, message="unknown job kind %r" % request.get("kind"))
        return 2
    context = request.get("context") or {}
    try:
        spec = kind.spec_type.from_wire(request.get("spec") or {})
        caps = Capabilities.from_wire(context["capabilities"])
    except (ProtocolError, KeyError) as exc:
        reporter.finish(ERROR, message="bad job request: %s" % exc)
        return 2
    ctx = WorkerContext(str(request.get("job_id", "")), str(context.get("root", ".")), caps, reporter)
    try:
        result = kind.run(spec, ctx)
    except JobFailed as exc:
        reporter.finish(ERROR, message=str(exc))
        return 1
    except MemoryError:
        reporter.finish(ERROR, message="the job ran out of memory: this model or batch does not fit in the "
                        "device's free memory; close other programs or use smaller shapes")
        return 1
    except Exception as exc:
        for line in traceback.format_exc().splitlines():
            reporter.log(line)
        reporter.finish(ERROR, message="the %s job failed unexpectedly (%s: %s); the job log has the details"
                        % (kind.name, type(exc).__name__, str(exc)[:500]))
        return 1
    reporter.finish(RESULT, result=result.to_wire())
    return 0


def main(stdin: Optional[Any] = None) -> int:
    _die_with_parent()
    signal.signal(signal.SIGTERM, _on_term)
    # Stray prints from libraries must not corrupt the message stream: fd 1 becomes stderr,
    # messages go to a private duplicate of the original stdout.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    reporter = Reporter(out)
    try:
        request = json.loads((stdin or sys.stdin).read())
        _apply_limits(request.get("context") or {})
        return run(request, reporter)
    except Cancelled:
        return 143


if __name__ == "__main__":
    sys.exit(main())
