"""Real runtime daemons the tests start: stopping one by its socket, and the handle the ``daemon`` fixture gives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def stop_daemon(socket_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "device_runtime", "stop", "--socket", str(socket_path)],
        capture_output=True,
        timeout=30,
        check=False,
    )


class RunningDaemon:
    def __init__(self, socket_path: Path, root: Path) -> None:
        self.socket_path = socket_path
        self.root = root

    @property
    def pid(self) -> int:
        text = Path(str(self.socket_path) + ".lock").read_text().strip()
        return int(text)
