"""Answering the GUI's SSH prompts (host key, password) from a test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget

D = TypeVar("D", bound=QWidget)


class Answerer:
    """Answers the next modal dialog of a type from inside its own event loop (exec blocks the test)."""

    def __init__(self, kind: type[D], action: Callable[[D], None]) -> None:
        self.kind = kind
        self.action = action
        self.seen: list[Any] = []
        self.timer = QTimer()
        self.timer.setInterval(30)
        self.timer.timeout.connect(self._poll)
        self.timer.start()

    def _poll(self) -> None:
        widget = QApplication.activeModalWidget()
        if isinstance(widget, self.kind) and widget not in self.seen:
            self.seen.append(widget)
            self.timer.stop()
            self.action(widget)
