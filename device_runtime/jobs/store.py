"""Jobs, their logs and build durations in one SQLite file under the daemon root.

A job row keeps the :class:`JobInfo` wire form (spec and result included) next to the columns
the queries need. Log lines get their own table so ``jobs.logs`` pages through them without
loading a whole build log. One connection, guarded by a lock: worker reader threads and the
daemon's loop both write here, and the volume is small.
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import threading
from typing import List, Optional, Sequence, Tuple

from device_runtime.jobs.states import advance
from device_runtime.protocol import JOB_INTERRUPTED, JOB_RUNNING, JobInfo, ProtocolError, repair_text

SCHEMA_VERSION = 1
# A runaway verbose log must not fill the device: lines past this are dropped with one note.
MAX_LOG_LINES = 200000
MAX_LINE_CHARS = 4000
# Estimates use the most recent builds only: a driver or TensorRT update changes the speed.
ESTIMATE_WINDOW = 5

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    created REAL NOT NULL,
    info TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created);
CREATE TABLE IF NOT EXISTS job_logs (
    job_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (job_id, n)
);
CREATE TABLE IF NOT EXISTS build_history (
    key TEXT NOT NULL,
    finished REAL NOT NULL,
    seconds REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS build_history_key ON build_history(key, finished);
"""

INTERRUPTED_ERROR = (
    "the device runtime stopped while this job was running, so it did not finish; "
    "its outputs were not written. Submit it again."
)


def _load_job(text: str) -> JobInfo:
    """A stored row; one written before the protocol refused lone surrogates is read with "?"
    in their place instead of failing ``jobs.list`` for every client."""
    data = json.loads(text)
    try:
        return JobInfo.from_wire(data)
    except ProtocolError:
        return JobInfo.from_wire(repair_text(data))


class JobStore:
    def __init__(self, path: str) -> None:
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    "%s was written by a newer edge-runtime (schema %d, this one reads %d): "
                    "update the runtime or move the file away" % (path, version, SCHEMA_VERSION)
                )
            self._db.executescript(_SCHEMA)
            self._db.execute("PRAGMA user_version=%d" % SCHEMA_VERSION)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- jobs ---------------------------------------------------------------------------------
    def put(self, job: JobInfo) -> None:
        """Insert or replace a job."""
        data = json.dumps(job.to_wire(), separators=(",", ":"))
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO jobs (id, state, created, info) VALUES (?, ?, ?, ?)",
                (job.id, job.state, job.created, data),
            )

    def get(self, job_id: str) -> Optional[JobInfo]:
        with self._lock:
            row = self._db.execute("SELECT info FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _load_job(row[0]) if row else None

    def list(self, limit: int = 200, states: Sequence[str] = ()) -> List[JobInfo]:
        """Newest first."""
        query = "SELECT info FROM jobs"
        args: List[object] = []
        if states:
            query += " WHERE state IN (%s)" % ",".join("?" * len(states))
            args.extend(states)
        query += " ORDER BY created DESC, rowid DESC LIMIT ?"
        args.append(max(0, limit))
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        return [_load_job(row[0]) for row in rows]

    def recover(self, now: float) -> List[JobInfo]:
        """Mark jobs left ``running`` by a previous daemon as interrupted; return them."""
        changed = []
        for job in self.list(limit=1 << 30, states=[JOB_RUNNING]):
            stopped = advance(job, JOB_INTERRUPTED, now, INTERRUPTED_ERROR)
            self.put(stopped)
            changed.append(stopped)
        return changed

    # -- logs ---------------------------------------------------------------------------------
    def log_count(self, job_id: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM job_logs WHERE job_id = ?", (job_id,)).fetchone()
        return int(row[0])

    def append_log(self, job_id: str, lines: Sequence[str]) -> Tuple[int, List[str]]:
        """Store ``lines``; returns the line number of the first one and the lines kept."""
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM job_logs WHERE job_id = ?", (job_id,)).fetchone()
            start = int(row[0])
            room = MAX_LOG_LINES - start
            if room <= 0:
                return start, []
            kept = [repair_text(line[:MAX_LINE_CHARS]) for line in lines[:room]]
            if len(lines) > room:
                kept[-1] = "[log truncated: more than %d lines; later lines were dropped]" % MAX_LOG_LINES
            self._db.executemany(
                "INSERT INTO job_logs (job_id, n, line) VALUES (?, ?, ?)",
                [(job_id, start + i, line) for i, line in enumerate(kept)],
            )
        return start, kept

    def read_log(self, job_id: str, offset: int, limit: int) -> Tuple[List[str], int]:
        """Lines ``offset .. offset+limit`` and the total count."""
        with self._lock:
            rows = self._db.execute(
                "SELECT line FROM job_logs WHERE job_id = ? AND n >= ? ORDER BY n LIMIT ?",
                (job_id, max(0, offset), max(0, limit)),
            ).fetchall()
            total = self._db.execute("SELECT COUNT(*) FROM job_logs WHERE job_id = ?", (job_id,)).fetchone()
        return [row[0] for row in rows], int(total[0])

    # -- build durations (for ETAs) -------------------------------------------------------------
    def record_duration(self, key: str, finished: float, seconds: float) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO build_history (key, finished, seconds) VALUES (?, ?, ?)", (key, finished, seconds)
            )

    def estimate(self, key: str) -> Optional[float]:
        """Median duration of the last few runs with this key, or None when there were none."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seconds FROM build_history WHERE key = ? ORDER BY finished DESC LIMIT ?",
                (key, ESTIMATE_WINDOW),
            ).fetchall()
        return statistics.median(row[0] for row in rows) if rows else None
