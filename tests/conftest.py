"""Shared fixtures: temp console environments and real runtime daemons on temp sockets."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from console.core.env import ConsoleEnv
from device_runtime.server.bridge import start_daemon


def stop_daemon(socket_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "device_runtime", "stop", "--socket", str(socket_path)],
        capture_output=True,
        timeout=30,
        check=False,
    )


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short temp dir: unix socket paths are limited to ~107 bytes."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="eoc-") as tmp:
        yield Path(tmp)


@pytest.fixture
def console_env(short_tmp: Path) -> Iterator[ConsoleEnv]:
    """A console environment over temp dirs; its local daemon is stopped afterwards."""
    env = ConsoleEnv(
        config_dir=short_tmp / "cfg",
        data_dir=short_tmp / "data",
        runtime_dir=short_tmp / "run",
        environ={"HOME": str(short_tmp)},
    )
    yield env
    stop_daemon(env.local_socket)


class RunningDaemon:
    def __init__(self, socket_path: Path, root: Path) -> None:
        self.socket_path = socket_path
        self.root = root

    @property
    def pid(self) -> int:
        text = Path(str(self.socket_path) + ".lock").read_text().strip()
        return int(text)


@pytest.fixture
def daemon(short_tmp: Path) -> Iterator[RunningDaemon]:
    """A real ``edge-runtime serve`` process, ready when the fixture returns."""
    socket_path = short_tmp / "rt" / "edge-runtime.sock"
    root = short_tmp / "root"
    start_daemon(str(socket_path), str(root), ["--rate", "10"])
    yield RunningDaemon(socket_path, root)
    stop_daemon(socket_path)
