"""Python's cycle collector, run on the GUI thread only.

CPython runs its cycle collector on whichever thread happens to allocate past the collector's
threshold. In the console that is often a worker thread: a device's SSH reader, the session
worker, an upload. When the garbage it finds holds PySide6 wrappers of widgets from a window
that has closed (a QMenu and its QActions, say), their C++ destructors run on that worker
thread. Qt objects must die on the thread they live in: a QAction destroyed off the GUI thread
takes a mutex the GUI thread may hold while it waits for that worker, and the console hangs or
crashes.

So the console turns automatic collection off and collects on a GUI-thread timer instead, with
the interpreter's own generation thresholds. Reference counting still frees everything that is
not in a cycle at once, on the thread that drops the last reference; the adapters make sure that
is never a worker's reference to a QObject (they close their worker pools before letting go).
"""

from __future__ import annotations

import gc
import threading
from concurrent.futures import ThreadPoolExecutor

from PySide6.QtCore import QCoreApplication, QObject, QTimer

INTERVAL_MS = 250


class GuiThreadCollector(QObject):
    """Collects cyclic garbage on the GUI thread, as often as the interpreter would have."""

    def __init__(self, interval_ms: int = INTERVAL_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread = threading.current_thread()
        self._thresholds = gc.get_threshold()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)
        self.collections = 0

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def start(self) -> None:
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        gc.enable()

    def collect_due(self) -> int:
        """Collect the oldest generation whose threshold is passed; return how many objects
        were unreachable (0 when nothing was due). Only ever on the thread that made this."""
        if threading.current_thread() is not self._thread:
            raise RuntimeError("the cycle collector runs on the GUI thread only")
        counts = gc.get_count()
        generation = -1
        for gen, (count, threshold) in enumerate(zip(counts, self._thresholds, strict=True)):
            if threshold and count > threshold:
                generation = gen
        if generation < 0:
            return 0
        self.collections += 1
        return gc.collect(generation)

    def collect_all(self) -> int:
        """A full collection now (a window closed, a test ended)."""
        if threading.current_thread() is not self._thread:
            raise RuntimeError("the cycle collector runs on the GUI thread only")
        self.collections += 1
        return gc.collect()


def install(app: QCoreApplication) -> GuiThreadCollector:
    """Turn automatic collection off and collect on ``app``'s thread from now on; calling it
    again returns the collector already installed."""
    for child in app.children():
        if isinstance(child, GuiThreadCollector):
            if not child.running:
                child.start()
            return child
    collector = GuiThreadCollector(parent=app)
    collector.start()
    return collector


def installed(app: QCoreApplication | None) -> GuiThreadCollector | None:
    if app is None:
        return None
    for child in app.children():
        if isinstance(child, GuiThreadCollector):
            return child
    return None


class _Retirement:
    """Adapters whose worker pools were shut down without waiting, kept alive on the GUI thread
    until their last worker thread has ended."""

    def __init__(self) -> None:
        self.held: list[tuple[object, list[threading.Thread]]] = []
        self.timer: QTimer | None = None

    def add(self, owner: object, threads: list[threading.Thread]) -> None:
        self.held.append((owner, threads))
        if self.timer is None:
            self.timer = QTimer()
            self.timer.setInterval(100)
            self.timer.timeout.connect(self.sweep)
        self.timer.start()

    def sweep(self) -> None:
        self.held = [(owner, threads) for owner, threads in self.held if any(t.is_alive() for t in threads)]
        if not self.held and self.timer is not None:
            self.timer.stop()


_RETIRED = _Retirement()


def retire(pool: ThreadPoolExecutor, owner: QObject) -> None:
    """Shut ``pool`` down without waiting for the job it runs, and keep ``owner`` (whose methods
    that job may still call) referenced from the GUI thread until the pool's threads have ended.

    Without this, a worker's closure could hold the last reference to ``owner``, and Qt would
    destroy it on the worker thread when the job ends.
    """
    threads = [t for t in getattr(pool, "_threads", ()) if t.is_alive()]
    pool.shutdown(wait=False, cancel_futures=True)
    if threads:
        _RETIRED.add(owner, threads)


def retired_count() -> int:
    """How many adapters still wait for a worker thread to end (for tests)."""
    _RETIRED.sweep()
    return len(_RETIRED.held)
