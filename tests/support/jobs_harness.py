"""An in-process JobService with a real event bus and real worker processes.

Used where a test needs device facts this machine does not have (TensorRT versions, a Jetson
board) or a service option (the output size limit): everything but the capabilities is real.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from device_runtime import protocol as p
from device_runtime.jobs.service import JobService
from device_runtime.server.events import EventBus

REPO = Path(__file__).resolve().parents[2]
FAKE_TRT = Path(__file__).resolve().parents[1] / "jobs" / "fake_trt"
FAKE_BIN = Path(__file__).resolve().parents[1] / "jobs" / "fake_bin"


def capabilities(**changes: Any) -> p.Capabilities:
    base = p.Capabilities(hostname="test", board_model="Test Host", os="Linux", arch="x86_64", python="3", cpu_count=2,
                          memory_total_mb=4096.0, backends=["onnxruntime"])
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def fake_trt_env(version: str, **extra: str) -> dict[str, str]:
    """Worker environment whose ``import tensorrt`` is the recorded fake of ``version`` and whose
    ``trtexec`` replays a real trtexec log."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(FAKE_TRT), str(REPO)])
    env["PATH"] = os.pathsep.join([str(FAKE_BIN), env.get("PATH", "")])
    env["FAKE_TENSORRT_VERSION"] = version
    env["FAKE_TRTEXEC_PYTHON"] = sys.executable
    env.update(extra)
    return env


class Harness:
    def __init__(self, root: Path, caps: p.Capabilities, **options: Any) -> None:
        self.bus = EventBus()
        self.events: list[p.JobInfo] = []
        self.logs: list[p.JobLog] = []
        self._cond = threading.Condition()
        self.bus.subscribe(1, [p.TOPIC_JOB, p.TOPIC_JOB_LOG], self._sink)
        self.service = JobService(str(root), self.bus, caps, **options)
        self.service.open()
        self.handlers = self.service.handlers()

    def _sink(self, frame: bytes) -> None:
        event = p.decode(frame)
        assert isinstance(event, p.Event)
        with self._cond:
            if event.topic == p.TOPIC_JOB:
                self.events.append(p.JobInfo.from_wire(event.data))
            else:
                self.logs.append(p.JobLog.from_wire(event.data))
            self._cond.notify_all()

    def call(self, method: str, params: dict[str, Any]) -> Any:
        record = p.METHODS[method][0].from_wire(json.loads(json.dumps(params)))
        return self.handlers[method](record)

    def submit(self, kind: str, spec: dict[str, Any]) -> p.JobInfo:
        info = self.call("jobs.submit", {"kind": kind, "spec": spec})
        assert isinstance(info, p.JobInfo)
        return info

    def wait_final(self, job_id: str, timeout: float = 120.0) -> p.JobInfo:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for info in self.events:
                    if info.id == job_id and info.state in p.JOB_FINAL_STATES:
                        return info
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("job %s did not finish in %.0f s" % (job_id, timeout))
                self._cond.wait(left)

    def log_text(self, job_id: str) -> str:
        log = self.call("jobs.logs", {"id": job_id, "offset": 0, "limit": 100000})
        return "\n".join(log.lines)

    def close(self) -> None:
        self.service.close()
