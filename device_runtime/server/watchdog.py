"""systemd readiness and watchdog notifications (sd_notify protocol, no libsystemd).

Under a unit with ``Type=notify`` and ``WatchdogSec=``, systemd sets ``$NOTIFY_SOCKET`` and
``$WATCHDOG_USEC``. The daemon says ``READY=1`` once it serves, then ``WATCHDOG=1`` at half
the watchdog interval *from its event loop*: a loop that hangs (or a process stopped with
SIGSTOP) stops the pings, and systemd restarts the service. Without those variables this
service does nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Mapping, Optional

from device_runtime.server.service import Service

log = logging.getLogger("edge_runtime.watchdog")


def notify_address(environ: Mapping[str, str]) -> Optional[str]:
    """The datagram socket to notify, or None. ``@name`` is Linux's abstract namespace."""
    address = environ.get("NOTIFY_SOCKET", "")
    if not address or not (address.startswith("/") or address.startswith("@")):
        return None
    return "\0" + address[1:] if address.startswith("@") else address


def watchdog_interval(environ: Mapping[str, str], pid: int) -> Optional[float]:
    """Seconds between pings (half of ``WATCHDOG_USEC``), or None when no watchdog applies to us."""
    usec = environ.get("WATCHDOG_USEC", "")
    owner = environ.get("WATCHDOG_PID", "")
    if owner and owner != str(pid):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2e6 if value > 0 else None


class Notifier:
    def __init__(self, address: str) -> None:
        self.address = address
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    def send(self, state: str) -> bool:
        try:
            self._sock.sendto(state.encode(), self.address)
            return True
        except OSError as exc:  # systemd gone or socket replaced: keep serving, say it once
            log.warning("could not notify systemd (%s): %s", self.address, exc)
            return False

    def close(self) -> None:
        self._sock.close()


class WatchdogService(Service):
    name = "watchdog"

    def __init__(self, environ: Mapping[str, str], pid: Optional[int] = None) -> None:
        address = notify_address(environ)
        self._notifier = Notifier(address) if address else None
        self.interval = watchdog_interval(environ, os.getpid() if pid is None else pid) if address else None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def ready(self) -> None:
        """The daemon serves (every service started, the socket listening): say READY=1 and
        start the pings. The daemon calls it last, so systemd never counts a daemon still
        starting as up, and a stop asked for meanwhile is handled as a stop, not a kill."""
        if self._notifier is None or self._loop is None:
            return
        self._notifier.send("READY=1\nSTATUS=serving\nMAINPID=%d" % os.getpid())
        if self.interval:
            self._ping()

    def _ping(self) -> None:
        assert self._loop is not None and self._notifier is not None and self.interval
        self._notifier.send("WATCHDOG=1")
        self._timer = self._loop.call_later(self.interval, self._ping)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._notifier is not None:
            self._notifier.send("STOPPING=1")
            self._notifier.close()
            self._notifier = None
