"""The console's log: Help > Open log opens the file the console writes (connections, lost links,
uncaught errors), and says so when there is none yet."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMenu
from pytestqt.qtbot import QtBot

from console.core import logs
from console.ui.main_window import MainWindow

pytestmark = pytest.mark.gui


class Opened(QObject):
    """Where Qt sends file URLs while registered: the desktop's viewer is not asked."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


@pytest.fixture
def opened() -> Iterator[Opened]:
    receiver = Opened()
    QDesktopServices.setUrlHandler("file", receiver, "open")  # type: ignore[arg-type]  # str at run time
    yield receiver
    QDesktopServices.unsetUrlHandler("file")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the worker's error, on purpose
def test_open_log_names_the_file_and_opens_it_once_written(qtbot: QtBot, window: MainWindow,
                                                           opened: Opened) -> None:
    path = logs.log_path(window.core.env)
    assert str(path) in window.open_log_action.toolTip()
    help_menu = window.menuBar().actions()[-1].menu()
    assert isinstance(help_menu, QMenu) and window.open_log_action in help_menu.actions()
    assert window.open_log() is False and not opened.urls
    assert "No log yet: %s" % path in window.statusBar().currentMessage()

    assert logs.install(window.core.env, "edge-console") == path
    try:
        logging.getLogger("edge_console.test").info("a line of ours")
        logging.getLogger("some.library").info("a library's chatter")
        logging.getLogger("some.library").warning("a library's warning")
        failing = threading.Thread(target=lambda: 1 / 0, name="worker-x")
        failing.start()
        failing.join()
        window.open_log_action.trigger()
    finally:
        logs.uninstall()
    assert [url.toLocalFile() for url in opened.urls] == [str(path)]
    assert "Opened the log: %s" % path in window.statusBar().currentMessage()
    text = path.read_text()
    assert "edge-console started" in text and "a line of ours" in text and "a library's warning" in text
    assert "a library's chatter" not in text
    assert "uncaught exception on thread worker-x" in text and "ZeroDivisionError" in text
