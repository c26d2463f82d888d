"""A raw protocol client with the job methods the job tests call on a real daemon."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from device_runtime import protocol as p
from tests.support.wire import RawClient


class JobClient(RawClient):
    """A raw protocol client subscribed to job events, with waits on job states."""

    def __init__(self, socket_path: Path, timeout: float = 60.0) -> None:
        super().__init__(socket_path, timeout=timeout)
        self.handshake()
        reply = self.call("events.subscribe", {"topics": [p.TOPIC_JOB, p.TOPIC_JOB_LOG]})
        assert isinstance(reply, p.Response), reply
        self.seen: list[p.JobInfo] = []
        self.log_events: list[p.JobLog] = []

    def ok(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        reply = self.call(method, params)
        assert isinstance(reply, p.Response), reply
        return reply.result

    def error(self, method: str, params: dict[str, Any] | None = None) -> p.ErrorReply:
        reply = self.call(method, params)
        assert isinstance(reply, p.ErrorReply), reply
        return reply

    def recv(self) -> p.AnyMessage:
        message = super().recv()
        if isinstance(message, p.Event) and message.topic == p.TOPIC_JOB:
            self.seen.append(p.JobInfo.from_wire(message.data))
        elif isinstance(message, p.Event) and message.topic == p.TOPIC_JOB_LOG:
            self.log_events.append(p.JobLog.from_wire(message.data))
        return message

    def submit(self, kind: str, spec: dict[str, Any], label: str = "") -> p.JobInfo:
        return p.JobInfo.from_wire(self.ok("jobs.submit", {"kind": kind, "spec": spec, "label": label}))

    def wait_for(self, job_id: str, states: tuple[str, ...], timeout: float = 120.0) -> p.JobInfo:
        """Wait (on events, with a deadline) until the job is in one of ``states``."""
        deadline = time.monotonic() + timeout
        for info in self.seen:
            if info.id == job_id and info.state in states:
                return info
        while time.monotonic() < deadline:
            message = self.recv()
            if isinstance(message, p.Event) and message.topic == p.TOPIC_JOB:
                info = self.seen[-1]
                if info.id == job_id and info.state in states:
                    return info
        raise AssertionError("job %s did not reach %s in %.0f s" % (job_id, states, timeout))

    def wait_final(self, job_id: str, timeout: float = 120.0) -> p.JobInfo:
        return self.wait_for(job_id, p.JOB_FINAL_STATES, timeout)

    def log_text(self, job_id: str) -> str:
        log = p.JobLog.from_wire(self.ok("jobs.logs", {"id": job_id, "offset": 0, "limit": 100000}))
        return "\n".join(log.lines)
