"""Sending files from this computer to a device for its jobs, with progress and a stop, without Qt.

A job on an SSH device reads the device's copy of a file (:func:`~console.core.transfers.files.stage_file`:
SFTP into the runtime's uploads area, hashed there before use). A :class:`FileStager` sends on the
caller's thread, one tag (what the files are for) at a time: it reports bytes, rate and time left to
its listeners and to the caller's own callback, may be stopped from any thread (what arrived is
kept; sending again resumes), and returns the device paths, or raises :class:`SendFailed` with a
sentence that says what happened and what to do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from console.core.devices.client import DeviceError
from console.core.devices.session import DeviceSession
from console.core.transfers.files import stage_file
from console.core.transfers.progress import TransferMeter, TransferStatus
from console.transport.base import TransportError
from device_runtime.protocol import ProtocolError

ProgressListener = Callable[[str, TransferStatus], None]  # tag, status
StatusCallback = Callable[[TransferStatus], None]


class SendStopped(Exception):
    """The person stopped the sending; the device keeps what it received."""


class SendFailed(Exception):
    """Sending did not end with the device holding the files; ``message`` says why and what to do."""

    def __init__(self, message: str, stopped: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.stopped = stopped


class FileStager:
    def __init__(self, session: DeviceSession) -> None:
        self.session = session
        self.progress_listeners: list[ProgressListener] = []  # called on the sending thread
        self._stops: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    @property
    def display_name(self) -> str:
        return self.session.entry.display_name

    def busy(self, tag: str) -> bool:
        with self._lock:
            return tag in self._stops

    def claim(self, tag: str) -> None:
        """Mark ``tag`` busy now, before :meth:`send` runs on another thread (a stop meanwhile holds)."""
        with self._lock:
            self._stops[tag] = threading.Event()

    def stop(self, tag: str) -> None:
        with self._lock:
            stop = self._stops.get(tag)
        if stop is not None:
            stop.set()

    def stop_all(self) -> None:
        with self._lock:
            for stop in self._stops.values():
                stop.set()

    def send(self, tag: str, files: list[Path], on_status: StatusCallback | None = None) -> list[str]:
        """Send ``files`` one after another (blocking); their device paths, in the order given."""
        with self._lock:  # claimed already, or now
            stop = self._stops.setdefault(tag, threading.Event())
        try:
            return [self._send_one(tag, local, stop, on_status) for local in files]
        except SendStopped as exc:
            raise SendFailed(str(exc), stopped=True) from exc
        except (DeviceError, TransportError, ProtocolError, OSError) as exc:
            text = (getattr(exc, "message", None) or str(exc)).strip().rstrip(".") or type(exc).__name__
            raise SendFailed("Sending to %s failed: %s." % (self.display_name, text)) from exc
        finally:
            with self._lock:  # not busy any more when the caller hears the outcome
                self._stops.pop(tag, None)

    def _report(self, tag: str, status: TransferStatus, on_status: StatusCallback | None) -> None:
        for listener in list(self.progress_listeners):
            listener(tag, status)
        if on_status is not None:
            on_status(status)

    def _send_one(self, tag: str, local: Path, stop: threading.Event, on_status: StatusCallback | None) -> str:
        meter = TransferMeter(local.name, local.stat().st_size)
        self._report(tag, meter.checking(), on_status)

        def progress(sent: int, total: int) -> None:
            if stop.is_set() and sent < total:
                raise SendStopped("Sending %s was stopped at %.1f of %.1f MB; %s keeps what it received, and "
                                  "sending it again goes on from there." % (
                                      local.name, sent / 1e6, total / 1e6, self.display_name))
            status = meter.update(sent, total)
            if meter.due(status):
                self._report(tag, status, on_status)

        if stop.is_set():
            raise SendStopped("Sending %s was stopped before it began." % local.name)
        return stage_file(self.session, local, progress)
