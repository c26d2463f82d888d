"""QtAdapter, the base of the Qt adapters with a worker: jobs run on its one worker thread, a device
failure arrives as ``failed`` on the GUI thread in a sentence, and close either waits for the job
under way or retires the worker, taking no work after. The adapters built on it (QtSession,
QtJobs, QtModels) are tested with their pages against a real daemon."""

from __future__ import annotations

import threading

from PySide6.QtCore import QCoreApplication
from pytestqt.qtbot import QtBot

from console.core.devices.client import DeviceError
from console.core.devices.session import State
from console.ui import gui_gc
from console.ui.devices.qt_session import QtSession
from console.ui.qt_adapter import QtAdapter

WAIT_MS = 10_000


class Adapter(QtAdapter):
    """An adapter that records its close steps."""

    def __init__(self, wait_on_close: bool = True) -> None:
        super().__init__("adapter-test", wait_on_close)
        self.steps: list[str] = []

    def _closing(self) -> None:
        self.steps.append("closing")

    def _closed_down(self) -> None:
        self.steps.append("closed down")


def _fail(text: str) -> None:
    raise DeviceError(text)


def test_a_failure_is_said_on_the_gui_thread(qtbot: QtBot) -> None:
    adapter = Adapter()
    heard: list[tuple[str, threading.Thread]] = []
    adapter.failed.connect(lambda text: heard.append((text, threading.current_thread())))
    ran_on: list[str] = []
    try:
        with qtbot.waitSignal(adapter.failed, timeout=WAIT_MS):
            adapter._run(lambda: (ran_on.append(threading.current_thread().name), _fail("job j-1 is not known.")),
                         "Cancelling")
        assert heard == [("Cancelling failed: job j-1 is not known.", threading.main_thread())]
        assert ran_on[0].startswith("adapter-test")
    finally:
        adapter.close()


def test_results_come_back_and_bugs_are_not_hidden(qtbot: QtBot) -> None:
    adapter = Adapter()
    heard: list[str] = []
    adapter.failed.connect(heard.append)
    try:
        assert adapter._run(lambda: 42, "Counting").result(WAIT_MS / 1000) == 42
        bug = adapter._run(lambda: 1 // 0, "Dividing")
        assert isinstance(bug.exception(WAIT_MS / 1000), ZeroDivisionError)
        failed = adapter._run(lambda: _fail("busy"), "Asking")
        assert failed.result(WAIT_MS / 1000) is None
        qtbot.waitUntil(lambda: heard == ["Asking failed: busy."], timeout=WAIT_MS)
    finally:
        adapter.close()


def test_close_waits_for_the_job_then_takes_no_work(qtbot: QtBot) -> None:
    adapter = Adapter()
    heard: list[str] = []
    adapter.failed.connect(heard.append)
    started, release = threading.Event(), threading.Event()
    finished: list[str] = []

    def job() -> None:
        started.set()
        release.wait(WAIT_MS / 1000)
        finished.append("done")
        _fail("the link dropped")  # while closing: nobody is told

    adapter._run(job, "Waiting")
    assert started.wait(WAIT_MS / 1000)
    original = adapter._closing

    def closing() -> None:
        original()
        release.set()  # the job ends only once close has begun

    adapter._closing = closing  # type: ignore[method-assign]
    adapter.close()
    assert finished == ["done"] and adapter.closed
    assert adapter.steps == ["closing", "closed down"]
    QCoreApplication.processEvents()  # anything the job emitted is delivered now
    assert heard == []
    after = adapter._run(lambda: finished.append("after"), "Too late")
    assert after.done() and after.result() is None and finished == ["done"]
    adapter.close()  # twice is harmless
    assert adapter.steps == ["closing", "closed down"]


def test_a_retired_worker_keeps_its_adapter_until_it_ends(qtbot: QtBot) -> None:
    adapter = Adapter(wait_on_close=False)
    started, release = threading.Event(), threading.Event()
    adapter._run(lambda: (started.set(), release.wait(WAIT_MS / 1000)), "Activating")
    assert started.wait(WAIT_MS / 1000)
    before = gui_gc.retired_count()
    adapter.close()  # returns at once: the job goes on
    assert adapter.steps == ["closing", "closed down"]
    assert gui_gc.retired_count() == before + 1
    release.set()
    qtbot.waitUntil(lambda: gui_gc.retired_count() == before, timeout=WAIT_MS)


def test_the_session_model_says_why_a_request_failed(qtbot: QtBot, local_model: QtSession) -> None:
    """QtSession words its failures as "Cannot reach <device>: ..." (here: never connected)."""
    assert local_model.state is not State.CONNECTED
    def ping() -> None:
        local_model.session.ping()

    with qtbot.waitSignal(local_model.failed, timeout=WAIT_MS) as blocker:
        local_model.run_blocking(ping)
    assert blocker.args == ["Cannot reach %s: local is not connected." % local_model.display_name]
