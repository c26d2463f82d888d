"""The one interface every job kind implements, and what a kind gets to work with.

``check`` runs in the daemon when a job is submitted: cheap, no heavy imports, no file reads
that depend on earlier pipeline steps; it refuses what can never work on this device. ``run``
runs in the worker process and returns the kind's typed result record. Cancelling is the
same for every kind: the daemon ends the worker's process group.
"""

from __future__ import annotations

import errno
import os
from typing import Any, Callable, Dict, Optional, Type

from device_runtime.jobs.messages import Reporter
from device_runtime.protocol import Capabilities, Record


class JobFailed(Exception):
    """A job that cannot go on; the message says what happened and what to do."""


class JobRefused(Exception):
    """A submitted job that can never run here; the message says why and what to do instead."""


class WorkerContext:
    """What a kind's ``run`` may use: progress, log, device facts and safe output files."""

    def __init__(
        self,
        job_id: str,
        root: str,
        capabilities: Capabilities,
        reporter: Reporter,
        env: Optional[Dict[str, str]] = None,
    ) -> None:
        self.job_id = job_id
        self.root = root
        self.capabilities = capabilities
        self.reporter = reporter
        self.env = dict(os.environ if env is None else env)

    def progress(self, fraction: float, stage: str, force: bool = False) -> None:
        self.reporter.progress(fraction, stage, force)

    def log(self, line: str) -> None:
        self.reporter.log(line)

    def meta(self, **fields: Any) -> None:
        self.reporter.meta(**fields)

    def temp_path(self, final: str) -> str:
        """A temp name next to ``final``; the daemon deletes it if the job does not succeed."""
        directory = os.path.dirname(os.path.abspath(final)) or "."
        if not os.path.isdir(directory):
            what = "is a file, not a folder" if os.path.exists(directory) else "does not exist"
            raise JobFailed("cannot write %s: the folder %s %s: create it or choose another output"
                            % (final, directory, what))
        if not os.access(directory, os.W_OK | os.X_OK):
            raise JobFailed("cannot write %s (permission denied): choose an output folder this "
                            "device's runtime user may write" % final)
        temp = os.path.join(directory, ".%s.partial-%s" % (os.path.basename(final), self.job_id))
        self.reporter.meta(temp=temp)
        return temp

    def write_output(self, final: str, write: Callable[[str], None]) -> int:
        """Call ``write(temp)``, fsync, rename onto ``final``; returns the size. Nothing is left
        at ``final`` (or at the temp name) unless the whole write worked."""
        temp = self.temp_path(final)
        try:
            write(temp)
            with open(temp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(temp, final)
        except OSError as exc:
            _remove(temp)
            raise JobFailed(describe_write_error(final, exc)) from None
        except BaseException:
            _remove(temp)
            raise
        return os.path.getsize(final)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def describe_write_error(path: str, exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        advice = "free space on the device or choose another output location"
    elif exc.errno == errno.EFBIG:
        advice = "the file is larger than this job may write; raise the runtime's output size limit or free space"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        advice = "choose an output folder this device's runtime user may write"
    else:
        advice = "check the output location"
    return "could not write %s: %s. Nothing was written; %s." % (path, reason, advice)


class JobKind:
    name = ""
    gpu = False
    spec_type: Type[Record] = Record

    def check(self, spec: Any, capabilities: Capabilities) -> None:
        """Raise :class:`JobRefused` for a request this device can never honour."""

    def run(self, spec: Any, ctx: WorkerContext) -> Record:
        raise NotImplementedError
