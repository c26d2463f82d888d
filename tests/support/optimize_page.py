"""Opening the Optimize page on a connected window."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pytestqt.qtbot import QtBot

from console.core.optimize.benchmarks import BenchmarkBook
from console.ui.devices.qt_session import QtSession
from console.ui.jobs.qt_jobs import QtJobs
from console.ui.optimize.page import OptimizePage


def open_optimize_page(qtbot: QtBot, model: QtSession, book: Path) -> Iterator[OptimizePage]:
    """The Optimize page over ``model``, connected and attached to the device's jobs (a fixture body)."""
    jobs = QtJobs(model, BenchmarkBook(book))
    widget = OptimizePage(jobs, model)
    qtbot.addWidget(widget)
    widget.resize(1300, 850)
    widget.show()
    model.connect_device()
    qtbot.waitUntil(lambda: jobs.tracker.attached, timeout=30_000)
    yield widget
    jobs.close()
