"""Sends files from this computer to a device for its jobs, off the GUI thread, with progress.

A job on an SSH device reads the device's copy of a file (``console.core.transfers.files.stage_file``:
SFTP into the runtime's uploads area, hashed there before use). Sending a model can take minutes
on a robot's Wi-Fi, so it runs on this object's own thread: the page shows bytes, rate and time
left from :attr:`progressed`, may stop it (what arrived is kept; sending again resumes), and gets
the device paths from :attr:`staged`.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from console.core.devices.client import DeviceError
from console.core.transfers.files import stage_file
from console.core.transfers.progress import TransferMeter
from console.transport.base import TransportError
from console.ui.devices.qt_session import QtSession
from device_runtime.protocol import ProtocolError


class SendStopped(Exception):
    """The person stopped the sending; the device keeps what it received."""


class FileSender(QObject):
    progressed = Signal(str, object)  # tag, TransferStatus
    staged = Signal(str, list)  # tag, the device paths of the files, in the order given
    failed = Signal(str, str)  # tag, a plain sentence

    def __init__(self, session_model: QtSession, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session_model = session_model
        self._pool: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="files-%s" % session_model.name)
        self._stops: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def busy(self, tag: str) -> bool:
        with self._lock:
            return tag in self._stops

    def send(self, tag: str, files: list[Path]) -> Future[None] | None:
        """Send ``files`` one after another; None when this object is closed."""
        pool = self._pool
        if pool is None:
            return None
        with self._lock:
            self._stops[tag] = threading.Event()
        return pool.submit(self._send, tag, list(files))

    def stop(self, tag: str) -> None:
        with self._lock:
            stop = self._stops.get(tag)
        if stop is not None:
            stop.set()

    def close(self) -> None:
        pool, self._pool = self._pool, None
        with self._lock:
            for stop in self._stops.values():
                stop.set()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    # -- worker thread -----------------------------------------------------------------------
    def _send(self, tag: str, files: list[Path]) -> None:
        with self._lock:
            stop = self._stops[tag]
        paths: list[str] = []
        problem: str | None = None
        try:
            paths = [self._send_one(tag, local, stop) for local in files]
        except SendStopped as exc:
            problem = str(exc)
        except (DeviceError, TransportError, ProtocolError, OSError) as exc:
            text = (getattr(exc, "message", None) or str(exc)).strip().rstrip(".") or type(exc).__name__
            problem = "Sending to %s failed: %s." % (self.session_model.display_name, text)
        finally:
            with self._lock:  # not busy any more when the page hears the outcome
                self._stops.pop(tag, None)
        if problem is not None:
            self.failed.emit(tag, problem)
        else:
            self.staged.emit(tag, paths)

    def _send_one(self, tag: str, local: Path, stop: threading.Event) -> str:
        meter = TransferMeter(local.name, local.stat().st_size)
        self.progressed.emit(tag, meter.checking())

        def progress(sent: int, total: int) -> None:
            if stop.is_set() and sent < total:
                raise SendStopped("Sending %s was stopped at %.1f of %.1f MB; %s keeps what it received, and "
                                  "sending it again goes on from there." % (
                                      local.name, sent / 1e6, total / 1e6, self.session_model.display_name))
            status = meter.update(sent, total)
            if meter.due(status):
                self.progressed.emit(tag, status)

        if stop.is_set():
            raise SendStopped("Sending %s was stopped before it began." % local.name)
        return stage_file(self.session_model.session, local, progress)
