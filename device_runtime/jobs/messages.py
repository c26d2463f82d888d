"""What a worker tells the daemon: one JSON object per line on its stdout (NDJSON).

``{"t": "progress", "fraction": 0.4, "stage": "tactic timing"}``, ``{"t": "log", "lines": [...]}``,
``{"t": "meta", ...}`` (facts the daemon keeps: temp files to clean up, the build-history key),
``{"t": "result", "result": {...}}`` and ``{"t": "error", "message": "..."}``. Progress is
throttled and log lines are batched here, so a chatty build cannot flood the daemon.
"""

from __future__ import annotations

import json
import threading
import time
from typing import IO, Any, Callable, Dict, List, Optional

PROGRESS = "progress"
LOG = "log"
META = "meta"
RESULT = "result"
ERROR = "error"

PROGRESS_INTERVAL_S = 0.1
LOG_FLUSH_S = 0.2
LOG_BATCH = 200


def encode_line(kind: str, **fields: Any) -> bytes:
    fields["t"] = kind
    return (json.dumps(fields, separators=(",", ":"), allow_nan=False) + "\n").encode()


def decode_line(raw: bytes) -> Optional[Dict[str, Any]]:
    """The message on one line, or None for a line that is not one (stray prints)."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("t"), str):
        return None
    return data


class Reporter:
    """Writes messages to ``stream``; safe to call from any thread of the worker."""

    def __init__(self, stream: IO[bytes], clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._clock = clock
        self._lock = threading.Lock()
        self._logs: List[str] = []
        self._last_progress = -1.0
        self._last_stage = ""
        self._last_flush = clock()
        self._closed = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name="log-flush", daemon=True)
        self._flusher.start()

    def _write(self, data: bytes) -> None:
        self._stream.write(data)
        self._stream.flush()

    def _flush_logs_locked(self) -> None:
        if self._logs:
            lines, self._logs = self._logs, []
            self._write(encode_line(LOG, lines=lines))
        self._last_flush = self._clock()

    def _flush_loop(self) -> None:
        while not self._closed.wait(LOG_FLUSH_S):
            with self._lock:
                self._flush_logs_locked()

    def log(self, line: str) -> None:
        with self._lock:
            self._logs.append(line.rstrip("\n"))
            if len(self._logs) >= LOG_BATCH:
                self._flush_logs_locked()

    def progress(self, fraction: float, stage: str, force: bool = False) -> None:
        now = self._clock()
        with self._lock:
            if not force and stage == self._last_stage and now - self._last_progress < PROGRESS_INTERVAL_S:
                return
            self._flush_logs_locked()
            self._last_progress, self._last_stage = now, stage
            self._write(encode_line(PROGRESS, fraction=min(max(float(fraction), 0.0), 1.0), stage=stage))

    def meta(self, **fields: Any) -> None:
        with self._lock:
            self._write(encode_line(META, **fields))

    def finish(self, kind: str, **fields: Any) -> None:
        """The last message (result or error), after every pending log line."""
        self._closed.set()
        with self._lock:
            self._flush_logs_locked()
            self._write(encode_line(kind, **fields))
