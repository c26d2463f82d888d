"""GUI test fixtures: an offscreen Qt platform, temp console dirs and the real local runtime."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from console.core.app import ConsoleCore
from console.core.devices.session import State
from console.core.env import ConsoleEnv
from console.ui.devices.qt_session import QtSession
from console.ui.main_window import MainWindow
from console.ui.theme import Theme, apply_theme
from tests.support.daemons import stop_daemon


@pytest.fixture
def short_runtime_dir() -> Iterator[Path]:
    # Unix socket paths are limited to ~108 bytes; pytest's tmp_path can be longer.
    path = Path(tempfile.mkdtemp(prefix="eoc-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def ui_env(tmp_path: Path, short_runtime_dir: Path) -> Iterator[ConsoleEnv]:
    env = ConsoleEnv(config_dir=tmp_path / "config", data_dir=tmp_path / "data",
                     runtime_dir=short_runtime_dir, environ={"HOME": str(tmp_path)})
    yield env
    stop_daemon(env.local_socket)


@pytest.fixture
def core(ui_env: ConsoleEnv) -> Iterator[ConsoleCore]:
    core = ConsoleCore(ui_env)
    yield core
    core.close()


@pytest.fixture
def theme(qapp: QApplication) -> Theme:
    return apply_theme(qapp, "light")


@pytest.fixture
def local_model(core: ConsoleCore) -> Iterator[QtSession]:
    """The built-in local device as a Qt model, not yet connected."""
    model = QtSession(core.session("local"), rate_hz=20.0)
    yield model
    model.close()


@pytest.fixture
def window(qtbot: QtBot, core: ConsoleCore, theme: Theme) -> Iterator[MainWindow]:
    """The main window on the built-in local device, connected."""
    win = MainWindow(core, theme, "local", rate_hz=10.0)
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    model = win.model()
    assert model is not None
    qtbot.waitUntil(lambda: model.state is State.CONNECTED, timeout=20_000)
    yield win
    win.close()
