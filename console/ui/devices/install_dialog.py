"""Install runtime on an SSH device: the preflight verdict first, then progress and the result.

The work is :class:`console.core.install.runtime.RuntimeInstaller` on a worker thread; its
callbacks arrive here as queued signals. Nothing is installed until the person presses Install,
and Install stays disabled while the preflight has a failing item. Text from the device is shown
as plain text. :func:`attach_install_action` gives the sidebar's SSH devices the menu entry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from console import __version__ as console_version
from console.core.devices.registry import DeviceRegistry
from console.core.env import ConsoleEnv
from console.core.install.preflight import FAIL, WARN, Preflight
from console.core.install.runtime import (
    UPGRADE_OFFERED,
    InstallOptions,
    InstallProgress,
    InstallResult,
    RuntimeInstaller,
)
from console.core.settings import DeviceEntry
from console.ui.charts.chart import plain_label
from console.ui.devices.sidebar import NAME_ROLE, DeviceSidebar

STATUS_WORDS = {"ok": "OK", WARN: "WARN", FAIL: "FAIL"}
STATUS_COLORS = {"ok": "#2e9e4f", WARN: "#d99a1c", FAIL: "#d64545"}


class InstallDialog(QDialog):
    """Preflight -> (Install) -> progress -> result, for one device."""

    preflightDone = Signal(object)  # Preflight, or the error message (str)
    progressed = Signal(object)  # InstallProgress
    installFinished = Signal(object)  # InstallResult, or the error message (str)

    def __init__(self, env: ConsoleEnv, entry: DeviceEntry, registry: DeviceRegistry | None = None,
                 parent: QWidget | None = None, options: InstallOptions | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Install runtime on %s" % entry.display_name)
        self.setMinimumWidth(640)
        self.entry = entry
        self.base = options or InstallOptions()
        self.installer = RuntimeInstaller(env, entry, registry, self.progressed.emit)
        self.preflight: Preflight | None = None
        self.install_result: InstallResult | None = None
        self.error = ""
        self._thread: threading.Thread | None = None
        self.heading = plain_label("Checking %s (nothing is changed yet)…" % entry.display_name)
        self.checks = QListWidget()
        self.checks.setAccessibleName("Preflight verdict")
        self.upgrade = QCheckBox("Replace the installed runtime with %s" % console_version)
        self.upgrade.setVisible(False)
        self.user_install = QCheckBox("Install for the login user only (user unit, no sudo)")
        self.user_install.setChecked(self.base.force_user)
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.bar.setVisible(False)
        self.stage = plain_label("")
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setVisible(False)
        self.outcome = plain_label("")
        self.outcome.setWordWrap(True)
        buttons = QDialogButtonBox()
        self.install_button = QPushButton("Install")
        self.install_button.setEnabled(False)
        self.install_button.setMinimumHeight(32)
        buttons.addButton(self.install_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_button = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.install_button.clicked.connect(self._on_install)
        self.close_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (self.heading, self.checks, self.upgrade, self.user_install, self.bar, self.stage, self.log,
                       self.outcome, buttons):
            layout.addWidget(widget)
        self.preflightDone.connect(self._on_preflight)
        self.progressed.connect(self._on_progress)
        self.installFinished.connect(self._on_finished)

    def start(self) -> None:
        """Run the preflight (read only) in the background."""
        self._run(lambda: self.installer.preflight(self._options()), self.preflightDone.emit)

    def _options(self) -> InstallOptions:
        return replace(self.base, force_user=self.user_install.isChecked(),
                       upgrade=self.base.upgrade or self.upgrade.isChecked())

    def _run(self, work: Callable[[], Any], done: Callable[[Any], None]) -> None:
        def body() -> None:
            try:
                value = work()
            except Exception as exc:  # every failure is shown in words, never a traceback
                value = str(exc) or type(exc).__name__
            done(value)

        self._thread = threading.Thread(target=body, name="install-runtime", daemon=True)
        self._thread.start()

    def _on_preflight(self, value: object) -> None:
        self.checks.clear()
        if not isinstance(value, Preflight):
            self.error = str(value)
            self.heading.setText("The preflight could not run: %s" % value)
            return
        self.preflight = value
        for check in value.checks:
            item = QListWidgetItem("%s  %s: %s" % (STATUS_WORDS[check.status], check.title, check.sentence))
            item.setForeground(QBrush(QColor(STATUS_COLORS[check.status])))
            self.checks.addItem(item)
        runtime = value.check("runtime")
        self.upgrade.setVisible(runtime.status == WARN and "upgrade" in runtime.sentence)
        self.install_button.setEnabled(value.ok)
        self.heading.setText("Ready to install." if value.ok else
                             "Not ready: %s" % value.refusal())

    def _on_install(self) -> None:
        self.install_button.setEnabled(False)
        self.close_button.setEnabled(False)  # an install stopped halfway helps nobody; it cannot hang forever
        self.upgrade.setEnabled(False)
        self.user_install.setEnabled(False)
        self.bar.setVisible(True)
        self.log.setVisible(True)
        options = self._options()
        self._run(lambda: self.installer.install(options), self.installFinished.emit)

    def _on_progress(self, progress: InstallProgress) -> None:
        self.stage.setText("%s: %s" % (progress.stage, progress.text))
        if progress.fraction is not None:
            self.bar.setValue(int(progress.fraction * 100))
        if progress.fraction is None or progress.fraction >= 1.0:
            self.log.appendPlainText("[%s] %s" % (progress.stage, progress.text))

    def _on_finished(self, value: object) -> None:
        self.close_button.setEnabled(True)
        self.bar.setValue(100)
        if isinstance(value, InstallResult):
            self.install_result = value
            if value.outcome == UPGRADE_OFFERED:
                self.outcome.setText("%s runs runtime %s; this console is %s. Tick \"Replace\" and install again to "
                                     "upgrade." % (self.entry.display_name, value.previous_version, console_version))
                self.upgrade.setVisible(True)
                self.upgrade.setEnabled(True)
                self.install_button.setEnabled(True)
            else:
                self.outcome.setText("Runtime %s %s on %s (%s install in %s) and connected."
                                     % (value.runtime_version, value.outcome, self.entry.display_name, value.mode,
                                        value.prefix))
        else:
            self.error = str(value)
            self.outcome.setText("Install failed: %s" % value)

    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def done(self, code: int) -> None:
        if self._thread is not None:
            self._thread.join(timeout=30)  # only a preflight can be running here: Close waits for installs
        self.installer.close()
        super().done(code)


def attach_install_action(sidebar: DeviceSidebar, env: ConsoleEnv, registry: DeviceRegistry,
                          parent: QWidget) -> None:
    """Give the sidebar's SSH devices an "Install runtime…" context-menu entry."""
    sidebar.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    def open_menu(pos: QPoint) -> None:
        item = sidebar.list.itemAt(pos)
        if item is None:
            return
        entry = registry.get(str(item.data(NAME_ROLE)))
        if entry.kind != "ssh":
            return
        menu = QMenu(sidebar)
        action = menu.addAction("Install runtime…")
        if menu.exec(sidebar.list.viewport().mapToGlobal(pos)) is action:
            dialog = InstallDialog(env, entry, registry, parent)
            dialog.start()
            dialog.exec()

    sidebar.list.customContextMenuRequested.connect(open_menu)
