"""The shape of a daemon service: a part of the runtime with its own protocol methods.

Services (alerts, jobs, the model store, ...) are built by the daemon, see every telemetry
sample, and publish events on the shared :class:`~device_runtime.server.events.EventBus`.
"""

from __future__ import annotations

import asyncio
from typing import Callable, Dict, Union

from device_runtime.protocol import Record
from device_runtime.server.deferred import Deferred

# A handler answers at once, or hands back a Deferred whose work runs off the event loop.
Handler = Callable[[Record], Union[Record, Deferred]]


class Service:
    name = "service"

    def handlers(self) -> Dict[str, Handler]:
        """Protocol methods this service answers, by method name."""
        return {}

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called once the daemon's loop runs (schedule timers, start workers)."""

    def on_sample(self, t: float, values: Dict[str, float]) -> None:
        """Called on the loop with every telemetry sample the hub takes."""

    def close(self) -> None:
        """Called on shutdown; stop workers and release files."""
