"""The built-in local device: ``edge-runtime bridge`` as a subprocess of the console."""

from __future__ import annotations

import collections
import os
import subprocess
import threading
from pathlib import Path

from console.transport.base import DirectSink, Stream, Transport, TransportError
from console.transport.file_sink import FileSink
from device_runtime.process import hang_up

STDERR_AFTER_EOF_S = 5.0  # how long the end of the stream waits for the bridge's last words


class _ProcessStream(Stream):
    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        self._stdin = proc.stdin
        self._stdout_fd = proc.stdout.fileno()
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        self._write_lock = threading.Lock()
        self._stderr_thread = threading.Thread(target=self._drain_stderr, name="bridge-stderr", daemon=True)
        self._stderr_thread.start()

    def _drain_stderr(self) -> None:
        stderr = self._proc.stderr
        assert stderr is not None
        for raw in iter(stderr.readline, b""):
            self._stderr_tail.append(raw.decode("utf-8", "replace").rstrip())

    def read(self, size: int) -> bytes:
        """Called from one reader thread only; it closes stdout itself at end of stream."""
        stdout = self._proc.stdout
        if stdout is None or stdout.closed:
            return b""
        try:
            data = os.read(self._stdout_fd, size)
        except OSError:
            data = b""
        if not data:
            stdout.close()
            # The bridge says why it ended on stderr just before it exits: let that line arrive
            # before the connection reads diagnostics() for its reason (it raced the drain thread).
            self._stderr_thread.join(timeout=STDERR_AFTER_EOF_S)
        return data

    def write(self, data: bytes) -> None:
        with self._write_lock:
            try:
                self._stdin.write(data)
                self._stdin.flush()
            except (BrokenPipeError, ValueError, OSError) as exc:
                raise TransportError("the local runtime bridge has exited: %s" % self.diagnostics()) from exc

    def close(self) -> None:
        """Hang up: closing the bridge's stdin ends it, which ends the reader's stream."""
        hang_up(self._proc, 5, self._stdin)
        self._stderr_thread.join(timeout=5)
        if self._proc.stderr is not None:
            self._proc.stderr.close()

    def diagnostics(self) -> str:
        return "\n".join(self._stderr_tail)


class LocalTransport(Transport):
    """Runs ``python -m device_runtime bridge`` for a per-user daemon on this computer,
    which the bridge starts when none is running. The demo model is provided."""

    name = "local"

    def __init__(self, python: str, socket_path: Path, root: Path, demo: bool = True, start: bool = True) -> None:
        self.python = python
        self.socket_path = socket_path
        self.root = root
        self.demo = demo
        self.start = start  # False: a daemon someone else runs; none listening is an error, not a start

    def command(self) -> list[str]:
        cmd = [self.python, "-m", "device_runtime", "bridge", "--socket", str(self.socket_path),
               "--root", str(self.root)]
        if self.demo:
            cmd.append("--demo")
        if not self.start:
            cmd.append("--no-start")
        return cmd

    def open(self) -> Stream:
        try:
            proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,
                close_fds=True,
            )
        except OSError as exc:
            raise TransportError(
                "cannot start the local runtime (%s): %s. Is edge-runtime installed in this "
                "Python environment?" % (self.python, exc)
            ) from exc
        return _ProcessStream(proc)

    def describe(self) -> str:
        return "this computer (%s)" % self.socket_path

    def direct_sink(self, part: str, offset: int) -> DirectSink | None:
        """The partial file itself: this computer's own device keeps it among this user's files."""
        try:
            return FileSink(part, offset)
        except PermissionError:
            return None  # another user's runtime: its daemon takes the chunks
