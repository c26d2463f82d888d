"""The job tracker fed with JobInfo / JobLog records: ordering, log offsets, kept benchmarks.

These run the tracker's merge rules without a device; tests/console/test_jobs_e2e.py runs the
same tracker against a real daemon.
"""

from __future__ import annotations

import time
from pathlib import Path

from console.core.devices.registry import LOCAL_ENTRY
from console.core.devices.session import DeviceSession
from console.core.jobs.tracker import JobTracker, LogBuffer, job_title
from console.core.optimize.benchmarks import BenchmarkBook
from console.transport.local import LocalTransport
from device_runtime.protocol import (
    TOPIC_JOB,
    TOPIC_JOB_LOG,
    Event,
    JobInfo,
    JobLog,
)
from tests.support.jobs_records import benchmark_result


def _tracker(tmp_path: Path, book: BenchmarkBook | None = None) -> JobTracker:
    transport = LocalTransport("python", tmp_path / "none.sock", tmp_path / "root")
    return JobTracker(DeviceSession(LOCAL_ENTRY, transport, time.time), book, max_log_lines=5)


def _job(state: str, progress: float = 0.0, **extra: object) -> JobInfo:
    return JobInfo(id="j1", kind="benchmark", state=state, spec={"model": "/m.onnx"}, progress=progress,
                   created=100.0, **extra)  # type: ignore[arg-type]


def _push(tracker: JobTracker, info: JobInfo) -> None:
    tracker.handle_event(Event(TOPIC_JOB, info.to_wire()))


def _log(tracker: JobTracker, offset: int, lines: list[str], done: bool = False) -> None:
    tracker.handle_event(Event(TOPIC_JOB_LOG, JobLog("j1", offset, lines, done).to_wire()))


def test_events_update_jobs_in_order_and_final_states_stick(tmp_path: Path) -> None:
    tracker = _tracker(tmp_path)
    seen: list[tuple[str, float]] = []
    tracker.job_listeners.append(lambda info: seen.append((info.state, info.progress)))
    _push(tracker, _job("queued"))
    _push(tracker, _job("running", 0.5))
    _push(tracker, _job("cancelled", 0.5))
    _push(tracker, _job("running", 0.6))  # a late straggler must not resurrect the job
    job = tracker.job("j1")
    assert job is not None and job.state == "cancelled"
    assert seen == [("queued", 0.0), ("running", 0.5), ("cancelled", 0.5)]


def test_a_reply_never_overwrites_a_fresher_event(tmp_path: Path) -> None:
    tracker = _tracker(tmp_path)
    since = tracker.events_seen  # a request goes out here...
    _push(tracker, _job("running", 0.7))  # ...an event arrives while it is in flight...
    held = tracker.apply(_job("running", 0.4), since)  # ...then its older reply
    assert held.progress == 0.7
    # A reply sent after the last event is the freshest word.
    assert tracker.apply(_job("running", 0.8), tracker.events_seen).progress == 0.8
    # A reply may not move a job backwards in its life either.
    assert tracker.apply(_job("queued"), tracker.events_seen).state == "running"


def test_logs_merge_by_offset_without_duplicates(tmp_path: Path) -> None:
    tracker = _tracker(tmp_path)
    appended: list[tuple[int, list[str]]] = []
    tracker.log_listeners.append(lambda _id, offset, lines: appended.append((offset, lines)))
    _log(tracker, 0, ["a", "b"])
    _log(tracker, 1, ["b", "c"])  # overlaps: only "c" is new
    _log(tracker, 3, ["d"], done=True)
    buf = tracker.log("j1")
    assert (buf.base, buf.lines, buf.done) == (0, ["a", "b", "c", "d"], True)
    assert appended == [(0, ["a", "b"]), (2, ["c"]), (3, ["d"])]


def test_log_buffer_gap_and_cap() -> None:
    buf = LogBuffer()
    assert buf.merge(2, ["x"], cap=3) is None  # lines 0-1 are missing: the caller fetches them
    assert buf.merge(0, ["a", "b", "c", "d"], cap=3) == ["a", "b", "c", "d"]
    assert (buf.base, buf.lines, buf.end) == (1, ["b", "c", "d"], 4)


def test_malformed_events_are_reported_not_raised(tmp_path: Path) -> None:
    tracker = _tracker(tmp_path)
    tracker.handle_event(Event(TOPIC_JOB, {"id": "j1", "kind": "validate"}))
    tracker.handle_event(Event(TOPIC_JOB_LOG, {"id": "j1", "offset": "x"}))
    assert tracker.jobs() == []
    assert len(tracker.problems) == 2 and "malformed" in tracker.problems[0]


def test_succeeded_benchmarks_are_kept_for_comparison(tmp_path: Path) -> None:
    book = BenchmarkBook(tmp_path / "bench.jsonl")
    tracker = _tracker(tmp_path, book)
    result = benchmark_result("det fp16", median=1.5)
    _push(tracker, _job("running", 0.5))
    assert book.entries() == []
    _push(tracker, _job("succeeded", 1.0, result=result.to_wire(), finished=130.0))
    (entry,) = book.entries()
    assert entry.job_id == "j1" and entry.device == "local" and entry.result == result
    assert entry.title == "det fp16"
    # The book survives the console: a new one reads the same file.
    again = BenchmarkBook(tmp_path / "bench.jsonl")
    assert [e.result for e in again.entries()] == [result]


def test_job_titles_name_kind_label_and_id() -> None:
    assert job_title(_job("queued", label="demo fp16")) == "benchmark 'demo fp16' (j1)"
    assert job_title(_job("queued")) == "benchmark (j1)"
