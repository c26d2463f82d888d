"""One worker process seen from the daemon: start it, read its messages, end it safely.

The worker runs in its own session (and so its own process group); cancelling sends SIGTERM to
the group, then SIGKILL after a grace period. The group is only signalled while its leader is
unreaped, so the id can never belong to an unrelated process by then.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import threading
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional

from device_runtime.jobs.messages import decode_line
from device_runtime.process import python_command

CANCEL_GRACE_S = 3.0
STDERR_TAIL = 40

OnMessage = Callable[[Dict[str, Any]], None]
OnExit = Callable[[int, List[str]], None]


class WorkerProcess:
    def __init__(
        self,
        request: Dict[str, Any],
        on_message: OnMessage,
        on_exit: OnExit,
        env: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.request = request
        self._on_message = on_message
        self._on_exit = on_exit
        self._env = dict(env) if env is not None else None
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._lock = threading.Lock()
        self._reaped = False
        self._stderr: Deque[str] = collections.deque(maxlen=STDERR_TAIL)
        self._threads: List[threading.Thread] = []

    @property
    def pid(self) -> Optional[int]:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [*python_command(), "-m", "device_runtime.jobs.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env=self._env,
            close_fds=True,
        )
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps(self.request).encode())
            self._proc.stdin.close()
        except BrokenPipeError:
            pass
        self._threads = [
            threading.Thread(target=self._read_stdout, name="job-out-%d" % self._proc.pid, daemon=True),
            threading.Thread(target=self._read_stderr, name="job-err-%d" % self._proc.pid, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        for raw in self._proc.stderr:
            self._stderr.append(raw.decode("utf-8", "replace").rstrip())

    def _read_stdout(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        for raw in proc.stdout:
            message = decode_line(raw)
            if message is not None:
                try:
                    self._on_message(message)
                except Exception:  # a bookkeeping bug must not leave the worker unreaped
                    continue
        # Wait for the exit without reaping, so cancel() may still signal the group meanwhile.
        try:
            os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            pass
        with self._lock:
            code = proc.wait()
            self._reaped = True
        self._threads[1].join(timeout=5.0)
        self._on_exit(code, list(self._stderr))

    def cancel(self, grace_s: float = CANCEL_GRACE_S) -> None:
        """SIGTERM to the worker's group now, SIGKILL after ``grace_s`` if it is still there."""
        if not self._signal(signal.SIGTERM):
            return
        timer = threading.Timer(grace_s, self._signal, args=(signal.SIGKILL,))
        timer.daemon = True
        timer.start()

    def _signal(self, sig: int) -> bool:
        with self._lock:
            if self._proc is None or self._reaped:
                return False
            try:
                os.killpg(self._proc.pid, sig)
            except ProcessLookupError:
                return False
            return True

    def join(self, timeout: Optional[float] = None) -> None:
        if self._threads:
            self._threads[0].join(timeout)


def describe_exit(code: int, stderr_tail: List[str]) -> str:
    """Why a worker ended without a result, for the job's error text."""
    if code < 0:
        sig = -code
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        what = "the job's process was killed by %s" % name
        if sig == signal.SIGKILL:
            what += " (often the out-of-memory killer: the model may not fit in this device's memory)"
    else:
        what = "the job's process exited with code %d without a result" % code
    tail = " | ".join(line for line in stderr_tail[-5:] if line.strip())
    if tail:
        what += "; its last words: %s" % tail[:600]
    return what + ". See the job log, then submit it again."
