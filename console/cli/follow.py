"""The loop behind every ``--follow``: hand each pushed item to the printer until ``--seconds``
run out, and say so when the device's link drops (exit UNREACHABLE)."""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import TypeVar

from console.core.devices.session import DeviceSession, State
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode

T = TypeVar("T")


def follow_queue(env: ConsoleEnv, session: DeviceSession, updates: queue.Queue[T], seconds: float | None,
                 handle: Callable[[T], None]) -> int:
    deadline = None if seconds is None else env.clock() + seconds
    while True:
        remaining = None if deadline is None else deadline - env.clock()
        if remaining is not None and remaining <= 0:
            return ExitCode.OK
        try:
            item = updates.get(timeout=min(remaining, 1.0) if remaining is not None else 1.0)
        except queue.Empty:
            if session.state is State.FAILED:
                env.stderr.write("edgectl: connection lost: %s\n" % session.message)
                return ExitCode.UNREACHABLE
            continue
        handle(item)
