"""Sends files from this computer to a device for its jobs, off the GUI thread, with progress.

The Qt face of a :class:`~console.core.transfers.sending.FileStager`: sending a model can take
minutes on a robot's Wi-Fi, so it runs on this object's own thread; the page shows bytes, rate and
time left from :attr:`progressed` (also for files a core workflow sends through the same stager),
may stop it (what arrived is kept; sending again resumes), and gets the device paths from :attr:`staged`.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from console.core.transfers.progress import TransferStatus
from console.core.transfers.sending import FileStager, SendFailed
from console.ui.devices.qt_session import QtSession


class FileSender(QObject):
    progressed = Signal(str, object)  # tag, TransferStatus
    staged = Signal(str, list)  # tag, the device paths of the files, in the order given
    failed = Signal(str, str)  # tag, a plain sentence

    def __init__(self, session_model: QtSession, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session_model = session_model
        self.stager = FileStager(session_model.session)
        self.stager.progress_listeners.append(self._on_progress)
        self._pool: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="files-%s" % session_model.name)

    def busy(self, tag: str) -> bool:
        return self.stager.busy(tag)

    def send(self, tag: str, files: list[Path]) -> Future[None] | None:
        """Send ``files`` one after another; None when this object is closed."""
        pool = self._pool
        if pool is None:
            return None
        self.stager.claim(tag)
        return pool.submit(self._send, tag, list(files))

    def stop(self, tag: str) -> None:
        self.stager.stop(tag)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        self.stager.stop_all()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    # -- worker thread -----------------------------------------------------------------------
    def _send(self, tag: str, files: list[Path]) -> None:
        try:
            paths = self.stager.send(tag, files)
        except SendFailed as exc:
            self.failed.emit(tag, exc.message)
        else:
            self.staged.emit(tag, paths)

    def _on_progress(self, tag: str, status: TransferStatus) -> None:
        self.progressed.emit(tag, status)
