"""Qt objects die on the GUI thread: cyclic garbage is collected there, never on a worker.

The hang and the crashes this guards against: a window's QMenu, left in a reference cycle,
was collected by Python's cycle collector on a device worker thread (whichever thread allocated
past the threshold), so QAction's destructor ran there and waited on a mutex the GUI thread held
while it waited for that worker.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication, QMenu
from pytestqt.qtbot import QtBot

from console.ui import gui_gc
from tests.support.daemons import stop_daemon

pytestmark = pytest.mark.gui


class _RecordedMenu(QMenu):
    deaths: list[threading.Thread] = []

    def __del__(self) -> None:
        _RecordedMenu.deaths.append(threading.current_thread())


def _allocate_past_threshold(kept: list[object]) -> None:
    threshold = gc.get_threshold()[0]
    kept.extend([] for _ in range(threshold * 5))


def test_a_cycle_holding_a_menu_is_collected_on_the_gui_thread_not_on_the_worker_that_allocated(
        qtbot: QtBot, qapp: QApplication) -> None:
    collector = gui_gc.installed(qapp)
    assert collector is not None and collector.running
    assert not gc.isenabled()
    _RecordedMenu.deaths.clear()
    gc.collect()  # the generation counts start from zero: only the worker allocates from here on

    menu = _RecordedMenu()
    for label in ("Deploy", "Roll back", "Remove"):
        menu.addAction(label)
    menu.cycle = menu  # type: ignore[attr-defined]
    del menu

    kept: list[object] = []
    worker = threading.Thread(target=_allocate_past_threshold, args=(kept,), name="session-worker")
    worker.start()
    worker.join()
    assert _RecordedMenu.deaths == []  # with automatic collection, the worker would have run the destructor

    qtbot.waitUntil(lambda: bool(_RecordedMenu.deaths), timeout=5_000)
    assert _RecordedMenu.deaths == [threading.main_thread()]
    del kept


def test_the_collector_refuses_to_run_off_the_gui_thread(qapp: QApplication) -> None:
    collector = gui_gc.installed(qapp)
    assert collector is not None
    errors: list[BaseException] = []

    def attempt() -> None:
        try:
            collector.collect_all()
        except RuntimeError as exc:
            errors.append(exc)

    worker = threading.Thread(target=attempt)
    worker.start()
    worker.join()
    assert len(errors) == 1 and "GUI thread" in str(errors[0])


def test_the_console_turns_automatic_collection_off_and_collects_on_its_gui_thread(
        tmp_path: Path, short_runtime_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_RUNTIME_DIR=str(short_runtime_dir), QT_QPA_PLATFORM="offscreen")
    code = ("import gc, sys\n"
            "from PySide6.QtWidgets import QApplication\n"
            "from console.ui import gui_gc\n"
            "from console.ui.app import main\n"
            "code = main(sys.argv[1:])\n"
            "collector = gui_gc.installed(QApplication.instance())\n"
            "print('automatic', gc.isenabled(), 'collections', collector.collections if collector else None)\n"
            "sys.exit(code)\n")
    try:
        result = subprocess.run([sys.executable, "-c", code, "--screenshot", str(tmp_path / "s.png"), "--rate", "10"],
                                env=env, capture_output=True, text=True, timeout=90, check=False)
    finally:
        stop_daemon(short_runtime_dir / "edge-runtime" / "edge-runtime.sock")
    assert result.returncode == 0, result.stderr
    words = result.stdout.split()
    assert words[:2] == ["automatic", "False"]
    assert words[2] == "collections" and int(words[3]) > 0


class _RecordedOwner(QObject):
    deaths: list[threading.Thread] = []

    def __del__(self) -> None:
        _RecordedOwner.deaths.append(threading.current_thread())


def test_an_adapter_closed_while_its_worker_runs_dies_on_the_gui_thread_after_the_worker_ends(
        qtbot: QtBot) -> None:
    _RecordedOwner.deaths.clear()
    owner = _RecordedOwner()
    pool = ThreadPoolExecutor(max_workers=1)
    release = threading.Event()

    def job(held: QObject = owner) -> None:  # the job holds the adapter, as the adapters' closures do
        release.wait(10)
        held.objectName()

    pool.submit(job)
    gui_gc.retire(pool, owner)
    del owner, job
    assert gui_gc.retired_count() == 1 and _RecordedOwner.deaths == []
    release.set()
    qtbot.waitUntil(lambda: gui_gc.retired_count() == 0, timeout=10_000)
    assert _RecordedOwner.deaths == [threading.main_thread()]
