"""The job state machine, the SQLite store and the scheduler, without processes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from device_runtime import protocol as p
from device_runtime.jobs.messages import LOG, PROGRESS, RESULT, Reporter, decode_line
from device_runtime.jobs.scheduler import decide
from device_runtime.jobs.states import IllegalTransition, advance
from device_runtime.jobs.store import INTERRUPTED_ERROR, MAX_LOG_LINES, JobStore


def job(job_id: str, state: str = p.JOB_QUEUED, gpu: bool = False, after: str | None = None,
        created: float = 0.0) -> p.JobInfo:
    return p.JobInfo(id=job_id, kind="benchmark" if gpu else "validate", state=state, spec={"model": "m.onnx"},
                     created=created, gpu=gpu, after=after)


@pytest.mark.parametrize(
    ("start", "target", "legal"),
    [
        (p.JOB_QUEUED, p.JOB_RUNNING, True),
        (p.JOB_QUEUED, p.JOB_CANCELLED, True),
        (p.JOB_QUEUED, p.JOB_SUCCEEDED, False),
        (p.JOB_QUEUED, p.JOB_INTERRUPTED, False),
        (p.JOB_RUNNING, p.JOB_SUCCEEDED, True),
        (p.JOB_RUNNING, p.JOB_FAILED, True),
        (p.JOB_RUNNING, p.JOB_CANCELLED, True),
        (p.JOB_RUNNING, p.JOB_INTERRUPTED, True),
        (p.JOB_RUNNING, p.JOB_QUEUED, False),
        (p.JOB_SUCCEEDED, p.JOB_RUNNING, False),
        (p.JOB_CANCELLED, p.JOB_RUNNING, False),
        (p.JOB_FAILED, p.JOB_SUCCEEDED, False),
    ],
)
def test_transitions(start: str, target: str, legal: bool) -> None:
    before = job("a", start)
    if legal:
        after = advance(before, target, 5.0, "why" if target != p.JOB_SUCCEEDED else None)
        assert after.state == target and before.state == start
    else:
        with pytest.raises(IllegalTransition):
            advance(before, target, 5.0)


def test_transitions_stamp_times_and_progress() -> None:
    running = advance(job("a"), p.JOB_RUNNING, 10.0)
    assert running.started == 10.0 and running.finished is None
    done = advance(running, p.JOB_SUCCEEDED, 12.0)
    assert (done.finished, done.progress, done.error) == (12.0, 1.0, None)
    failed = advance(running, p.JOB_FAILED, 13.0, "disk full: free space")
    assert failed.error == "disk full: free space" and failed.progress == 0.0


def test_store_survives_reopen_and_recovers_running_jobs(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    store = JobStore(str(path))
    store.put(advance(job("run1", created=1.0), p.JOB_RUNNING, 2.0))
    store.put(job("queued1", created=3.0))
    done = advance(advance(job("done1", created=0.5), p.JOB_RUNNING, 1.0), p.JOB_SUCCEEDED, 1.5)
    store.put(p.JobInfo.from_wire({**done.to_wire(), "result": {"ok": True}}))
    store.close()

    store = JobStore(str(path))
    changed = store.recover(now=9.0)
    assert [j.id for j in changed] == ["run1"]
    interrupted = store.get("run1")
    assert interrupted is not None and interrupted.state == p.JOB_INTERRUPTED
    assert interrupted.error == INTERRUPTED_ERROR and interrupted.finished == 9.0
    assert [j.id for j in store.list()] == ["queued1", "run1", "done1"]  # newest first
    assert [j.id for j in store.list(states=[p.JOB_SUCCEEDED])] == ["done1"]
    assert store.get("done1").result == {"ok": True}  # type: ignore[union-attr]
    assert store.recover(now=10.0) == []


def test_logs_page_and_are_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = JobStore(str(tmp_path / "j.sqlite"))
    first, kept = store.append_log("a", ["l%d" % i for i in range(5)])
    assert (first, len(kept)) == (0, 5)
    assert store.append_log("a", ["l5", "l6"])[0] == 5
    assert store.read_log("a", 2, 3) == (["l2", "l3", "l4"], 7)
    assert store.read_log("a", 7, 10) == ([], 7)
    monkeypatch.setattr("device_runtime.jobs.store.MAX_LOG_LINES", 9)
    offset, kept = store.append_log("a", ["x"] * 5)
    assert offset == 7 and len(kept) == 2 and "truncated" in kept[-1]
    assert store.append_log("a", ["y"]) == (9, [])
    assert MAX_LOG_LINES > 10000


def test_duration_estimates_use_recent_builds(tmp_path: Path) -> None:
    store = JobStore(str(tmp_path / "j.sqlite"))
    assert store.estimate("k") is None
    for i, seconds in enumerate([100.0, 10.0, 12.0, 11.0, 13.0, 9.0]):
        store.record_duration("k", float(i), seconds)
    assert store.estimate("k") == 11.0  # the oldest (100 s) is outside the window
    assert store.estimate("other") is None


def test_newer_schema_is_refused_with_advice(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "j.sqlite"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(RuntimeError, match="newer edge-runtime"):
        JobStore(str(path))


def test_gpu_jobs_run_one_at_a_time_and_light_jobs_beside() -> None:
    jobs = [job("g1", gpu=True, created=1), job("g2", gpu=True, created=2), job("v1", created=3),
            job("v2", created=4), job("v3", created=5)]
    decision = decide(jobs, {j.id: j.state for j in jobs})
    assert [j.id for j in decision.start] == ["g1", "v1", "v2"]
    busy = [job("g0", p.JOB_RUNNING, gpu=True), *jobs]
    assert [j.id for j in decide(busy, {}).start] == ["v1", "v2"]


def test_after_waits_runs_or_cancels() -> None:
    waiting = job("b", gpu=True, after="a", created=2)
    assert decide([waiting], {"a": p.JOB_RUNNING}).start == []
    assert [j.id for j in decide([waiting], {"a": p.JOB_SUCCEEDED}).start] == ["b"]
    for state in (p.JOB_FAILED, p.JOB_CANCELLED, p.JOB_INTERRUPTED):
        cancelled = decide([waiting], {"a": state}).cancel
        assert [(j.id, state in why) for j, why in cancelled] == [("b", True)]
    assert "no longer exists" in decide([waiting], {}).cancel[0][1]


def test_reporter_batches_logs_and_throttles_progress() -> None:
    now = [0.0]
    out = io.BytesIO()
    reporter = Reporter(out, clock=lambda: now[0])
    reporter.progress(0.1, "a")
    reporter.progress(0.2, "a")  # same stage within 0.1 s: dropped
    reporter.progress(0.3, "b")  # new stage: sent
    for i in range(3):
        reporter.log("line %d" % i)
    now[0] = 1.0
    reporter.progress(0.5, "b")
    reporter.finish(RESULT, result={"x": 1})
    messages = [decode_line(raw) for raw in out.getvalue().splitlines()]
    kinds = [(m["t"], m.get("fraction") or m.get("lines") or m.get("result")) for m in messages if m]
    assert kinds == [(PROGRESS, 0.1), (PROGRESS, 0.3), (LOG, ["line 0", "line 1", "line 2"]), (PROGRESS, 0.5),
                     (RESULT, {"x": 1})]
    assert decode_line(b"not json") is None and decode_line(json.dumps([1]).encode()) is None
