"""``edgectl --device D push FILE``: put a file into the device's store ``incoming/`` area, for scripts.

The file goes over SFTP on an SSH device and is hashed by the device before it is accepted; a link
that drops is reconnected and the upload resumed from what the device holds. Progress goes to
stderr: on a terminal a line redrawn with every progress tick (five times a second); in a pipe or a
log a line per 10 % and per change of state (reconnecting, verifying), so a CI log shows a push
that is moving without filling up. stdout gets only the result: where the file is now and its sha256.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from console.cli.registry import Commands
from console.core.app import ConsoleCore
from console.core.devices.client import DeviceError, IncompatibleRuntime
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from console.core.text_units import duration
from console.core.transfers.push import DEFAULT_ATTEMPTS, Pusher, PushFailed, PushGaveUp, PushResult
from console.core.transfers.push_progress import (
    CONNECTING,
    DONE,
    HASHING,
    RECONNECTING,
    SENDING,
    VERIFYING,
    PushProgress,
)


def register(sub: Any, commands: Commands) -> None:
    push = sub.add_parser("push", help="upload a file into the device's incoming/ area (resumable, verified)")
    push.add_argument("file", type=Path)
    push.add_argument("--json", action="store_true", help="print the result as one JSON object")
    push.add_argument("--attempts", type=int, default=DEFAULT_ATTEMPTS,
                      help="give up after this many attempts in a row that get nothing across (default %(default)s)")
    push.add_argument("--timeout", type=float, help="give up after this many seconds in all (default: no limit)")
    commands["push"] = _push


def progress_text(name: str, p: PushProgress) -> str:
    """``model.onnx  96.0 / 256.0 MB  37%  3.1 MB/s  52s left``, or what the push waits for."""
    head = "%s  %.1f / %.1f MB  %3.0f%%" % (name, p.sent / 1e6, p.total / 1e6, p.fraction * 100)
    if p.state == SENDING:
        return "%s  %.1f MB/s  %s left" % (head, p.rate_bps / 1e6, duration(p.eta_s))
    if p.state == RECONNECTING:
        return "%s  link lost: %s" % (head, p.message)
    if p.state == CONNECTING:
        return "%s  connecting%s" % (head, " (%s)" % p.message if p.message else "")
    if p.state == VERIFYING:
        return "%s  the device is checking the sha256" % head
    if p.state == HASHING:
        return "%s: computing the sha256" % name
    return head


class PushDisplay:
    """Progress on stderr: redrawn in place on a terminal, sparse lines elsewhere."""

    def __init__(self, stream: TextIO, tty: bool, name: str) -> None:
        self.stream = stream
        self.tty = tty
        self.name = name
        self._width = 0
        self._last_key: tuple[str, int, str] | None = None

    def update(self, p: PushProgress) -> None:
        text = progress_text(self.name, p)
        if self.tty:
            if p.state == DONE:
                self.end()
                return
            self.stream.write("\r" + text + " " * max(0, self._width - len(text)))
            self._width = len(text)
        else:
            key = (p.state, int(p.fraction * 10), p.message if p.state == RECONNECTING else "")
            if key == self._last_key or p.state == DONE:
                return
            self._last_key = key
            self.stream.write(text + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _push(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    local: Path = args.file
    if not local.is_file():
        env.stderr.write("edgectl: %s is not a file\n" % local)
        return ExitCode.USAGE
    if args.attempts < 1:
        env.stderr.write("edgectl: --attempts must be at least 1\n")
        return ExitCode.USAGE
    display = PushDisplay(env.stderr, _isatty(env.stderr), local.name)
    session = core.session(args.device)
    pusher = Pusher(session, local, display.update, attempts=args.attempts, deadline_s=args.timeout)
    try:
        try:
            result = pusher.run()
        finally:
            display.end()  # whatever happened, the next line starts on a line of its own
    except PushGaveUp as exc:
        env.stderr.write("edgectl: %s\n" % exc)
        return ExitCode.UNREACHABLE
    except PushFailed as exc:
        env.stderr.write("edgectl: %s\n" % exc)
        return ExitCode.ERROR
    except DeviceError as exc:
        if isinstance(exc, IncompatibleRuntime):
            raise  # edgectl says what to update, with its own exit code
        env.stderr.write("edgectl: %s refused %s: %s\n" % (args.device, local.name, exc))
        return ExitCode.ERROR
    except KeyboardInterrupt:
        held = pusher.snapshot()
        env.stderr.write("edgectl: push interrupted with %.1f of %.1f MB sent; what reached the device is kept: "
                         "run the same push again to resume\n" % (held.sent / 1e6, held.total / 1e6))
        return ExitCode.ERROR
    _report(env, args, local, result)
    return ExitCode.OK


def _report(env: ConsoleEnv, args: argparse.Namespace, local: Path, result: PushResult) -> None:
    if args.json:
        env.stdout.write(json.dumps({
            "device": args.device, "file": str(local), "path": result.path, "sha256": result.sha256,
            "size": result.size, "resumed_from": result.resumed_from, "attempts": result.attempts,
            "seconds": round(result.seconds, 3)}) + "\n")
        return
    notes = []
    if result.resumed_from >= result.size:
        notes.append("the device already held it")
    elif result.resumed_from:
        notes.append("resumed from %.1f MB" % (result.resumed_from / 1e6))
    if result.attempts > 1:
        notes.append("%d connections" % result.attempts)
    env.stdout.write("pushed %s to %s: %s\n" % (local.name, args.device, result.path))
    env.stdout.write("sha256 %s (computed on the device)%s\n" % (result.sha256, "; " + ", ".join(notes)
                                                                 if notes else ""))
