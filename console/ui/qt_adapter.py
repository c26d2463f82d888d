"""The base of the Qt adapters that own a worker thread (:class:`QtSession`, :class:`QtJobs`,
:class:`QtModels`): one worker for a device's blocking requests, failures said in a sentence,
and a shutdown that never lets a Qt object die on a worker.

An adapter wraps a core object whose methods block on the network and whose listeners run on
the connection's reader thread. Its blocking calls run on its worker, one at a time in the
order asked (:meth:`QtAdapter._run`), so the GUI never waits on a device; what they find, and
what the core's listeners hear, cross to the GUI thread only as signals, which Qt queues there.
A job never touches a widget.

Closing stops taking work, then either waits for the job under way or, for a job that may last
as long as an activation on the device, lets it end by itself while
:func:`console.ui.gui_gc.retire` keeps the adapter referenced from the GUI thread. Either way the
worker's reference to the adapter is never its last, so the adapter is never destroyed on the
worker (``console/ui/gui_gc.py`` says why that matters).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, ClassVar, TypeVar

from PySide6.QtCore import QObject, Signal

from console.core.devices.client import DeviceError
from console.core.devices.session import State
from console.transport.base import TransportError
from console.ui import gui_gc
from device_runtime.protocol import ProtocolError

if TYPE_CHECKING:
    from console.ui.devices.qt_session import QtSession

T = TypeVar("T")

# What a device request may raise that the person should read about (anything else is a bug).
DEVICE_FAILURES: tuple[type[BaseException], ...] = (DeviceError, TransportError, ProtocolError, OSError)


def failure_sentence(what: str, exc: BaseException) -> str:
    """``Cancelling failed: job j-1 is not known.``: one sentence for people, never a traceback."""
    text = (getattr(exc, "message", None) or str(exc)).strip() or type(exc).__name__
    return "%s failed: %s." % (what, text.rstrip("."))


def _done() -> Future[T | None]:
    done: Future[T | None] = Future()
    done.set_result(None)
    return done


class QtAdapter(QObject):
    """A worker for blocking requests, the ``failed`` signal for what went wrong, and :meth:`close`.

    Subclasses set :attr:`failures` (the errors :meth:`_run` reports rather than lets through),
    may word them with :meth:`_failure_text`, and let go of the core in :meth:`_closing` (before
    the worker stops) and :meth:`_closed_down` (after).
    """

    failed = Signal(str)  # a plain sentence: what went wrong and what to do

    failures: ClassVar[tuple[type[BaseException], ...]] = DEVICE_FAILURES

    def __init__(self, worker_name: str, wait_on_close: bool = True, parent: QObject | None = None) -> None:
        """``worker_name``: the worker thread's name (``jobs-robot1``); ``wait_on_close``: whether
        :meth:`close` waits for the job under way (else it is retired, see the module's docstring)."""
        super().__init__(parent)
        self._pool: ThreadPoolExecutor | None = ThreadPoolExecutor(max_workers=1, thread_name_prefix=worker_name)
        self._wait_on_close = wait_on_close
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    # -- any thread --------------------------------------------------------------------------
    def _submit(self, job: Callable[[], T]) -> Future[T | None]:
        """Queue ``job`` on the worker as it is (it reports its own failures). Once closed, a
        future already done with None."""
        pool = self._pool
        if self._closed or pool is None:
            return _done()
        try:
            return pool.submit(job)
        except RuntimeError:  # the GUI thread closed the worker a moment ago
            return _done()

    def _guard(self, job: Callable[[], T], what: str) -> Callable[[], T | None]:
        """``job``, with :attr:`failures` reported as ``failed`` (unless closed) and None returned."""
        def guarded() -> T | None:
            try:
                return job()
            except self.failures as exc:
                if not self._closed:
                    self.failed.emit(self._failure_text(what, exc))
                return None

        return guarded

    def _run(self, job: Callable[[], T], what: str) -> Future[T | None]:
        """Run ``job`` on the worker; a failure becomes ``failed`` ("<what> failed: ...")."""
        return self._submit(self._guard(job, what))

    def _failure_text(self, what: str, exc: BaseException) -> str:
        return failure_sentence(what, exc)

    # -- GUI thread --------------------------------------------------------------------------
    def close(self) -> None:
        """Stop taking work and stop the worker (see the module's docstring); safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._closing()
        pool, self._pool = self._pool, None
        if pool is not None:
            if self._wait_on_close:
                pool.shutdown(wait=True, cancel_futures=True)
            else:
                gui_gc.retire(pool, self)
        self._closed_down()

    def _closing(self) -> None:
        """Closing, before the worker stops: stop listening to the core, stop transfers."""

    def _closed_down(self) -> None:
        """Closed, the worker stopped (or retired): close what the jobs used."""


class QtFeedAdapter(QObject):
    """The base of the Qt adapters over a core feed that has no worker of its own
    (:class:`QtAlerts`, :class:`QtLatency`, :class:`QtHealth`): their requests run on the device
    session's worker (``QtSession.run_blocking``), the feed starts on every (re)connection, and
    why nothing flows is one sentence in :attr:`notice` ("" while it flows)."""

    noticeChanged = Signal(str)  # "" while the feed flows; else a sentence saying why not

    def __init__(self, model: QtSession, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.notice = ""

    def _follow_connection(self) -> None:
        """Start now when connected, and again on every reconnection; the subclass calls it last
        in its ``__init__``, once its feed is attached."""
        self.model.stateChanged.connect(self._on_state)
        if self.model.state is State.CONNECTED:
            self.start()

    def start(self) -> None:
        """Subscribe and back-fill (again after a reconnect), on the session's worker."""
        self.model.run_blocking(self._start_job)

    def _start_job(self) -> None:  # on the session's worker
        raise NotImplementedError

    def _on_state(self, state: str, _message: str) -> None:
        if state == State.CONNECTED.value:
            self.start()

    def _set_notice(self, text: str) -> None:
        self.notice = text
        self.noticeChanged.emit(text)
