"""The probe's child process seen from the daemon: start it, read its lines on the loop, end it.

Until it is ready its stdout is watched with ``loop.add_reader``, so a load error or the
ready line is heard at once. After that, :meth:`ProbeProcess.quiet` stops the watching and
:meth:`ProbeProcess.drain` reads whatever arrived from a timer the daemon runs anyway (the
latency service's once-a-second publish): a batch of readings then costs the daemon no
wake-up of its own, only its parsing. A crash shows as the end of the output at the next
drain. Everything happens on the daemon's loop thread, with no lock and no extra thread.
Its stderr goes to ``<root>/latency/probe.log`` (rewritten at each start); the tail explains
a crash.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
from typing import Any, Callable, Dict, List, Optional

from device_runtime.process import python_command

log = logging.getLogger("edge_runtime.probe")

OnLine = Callable[[Dict[str, Any]], None]
OnReadings = Callable[[List[float]], None]
OnExit = Callable[[int, str], None]
STOP_WAIT_S = 1.0


class ProbeProcess:
    def __init__(self, loop: asyncio.AbstractEventLoop, log_path: str, on_line: OnLine, on_readings: OnReadings,
                 on_exit: OnExit) -> None:
        self.loop = loop
        self.log_path = log_path
        self.on_line = on_line
        self.on_readings = on_readings
        self.on_exit = on_exit
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self._buf = b""
        self._stopping = False
        self._watched = False

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc is not None else None

    def start(self, request: Dict[str, Any]) -> None:
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        with open(self.log_path, "wb") as err:
            self.proc = subprocess.Popen(
                [*python_command(), "-m", "device_runtime.latency.probe_worker"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, close_fds=True, start_new_session=True)
        assert self.proc.stdout is not None
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.loop.add_reader(self.proc.stdout.fileno(), self.drain)
        self._watched = True
        self.send(request)

    def quiet(self) -> None:
        """Stop waking the loop for each line; :meth:`drain` must be called from a timer instead."""
        proc = self.proc
        if self._watched and proc is not None and proc.stdout is not None:
            self.loop.remove_reader(proc.stdout.fileno())
        self._watched = False

    def send(self, command: Dict[str, Any]) -> None:
        proc = self.proc
        if proc is None or proc.stdin is None or proc.stdin.closed:
            return
        try:
            proc.stdin.write((json.dumps(command) + "\n").encode("utf-8"))
            proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass  # it is exiting; the end of its output reports why

    def drain(self) -> None:
        """Handle every complete line that arrived; the end of the output ends it."""
        proc = self.proc
        if proc is None or proc.stdout is None:
            return
        data = b""
        while True:
            try:
                chunk = os.read(proc.stdout.fileno(), 65536)
            except BlockingIOError:
                break
            if not chunk:
                self._lines(data)
                self._finish()
                return
            data += chunk
            if len(chunk) < 65536:
                break
        self._lines(data)

    def _lines(self, data: bytes) -> None:
        if not data:
            return
        self._buf += data
        *lines, self._buf = self._buf.split(b"\n")
        for line in lines:
            if line[:2] == b"R ":  # readings: numbers only (see probe_worker)
                try:
                    values = list(map(float, line[2:].split()))
                except ValueError:
                    continue
                self.on_readings(values)
                continue
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict):
                self.on_line(message)

    def _finish(self) -> None:
        proc = self.proc
        if proc is None:
            return
        self._detach()
        try:
            code = proc.wait(timeout=STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        self.proc = None
        if not self._stopping:
            self.on_exit(code, self._stderr_tail())

    def _detach(self) -> None:
        proc = self.proc
        if proc is not None and proc.stdout is not None and not proc.stdout.closed:
            if self._watched:
                self.loop.remove_reader(proc.stdout.fileno())
                self._watched = False
            proc.stdout.close()
        if proc is not None and proc.stdin is not None and not proc.stdin.closed:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass

    def stop(self) -> None:
        """End it now (SIGTERM, then SIGKILL after a second); no exit callback."""
        proc = self.proc
        if proc is None:
            return
        self._stopping = True
        self._detach()
        proc.terminate()
        try:
            proc.wait(timeout=STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            log.warning("the probe process %d ignored SIGTERM; killing it", proc.pid)
            proc.kill()
            proc.wait()
        self.proc = None

    def _stderr_tail(self) -> str:
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - 2000))
                lines = handle.read().decode("utf-8", "replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(line.strip() for line in lines[-4:] if line.strip())[:600]
