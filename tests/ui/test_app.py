"""``edge-console`` as a process: --version, --screenshot against the real local runtime, errors."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from tests.support.daemons import stop_daemon
from tests.support.ui_app import PNG_SIGNATURE, _run

pytestmark = pytest.mark.gui


def test_version(tmp_path: Path, short_runtime_dir: Path) -> None:
    result = _run(["--version"], tmp_path, short_runtime_dir)
    assert result.returncode == 0
    assert result.stdout.strip() == "edge-console 0.1.0"


def test_screenshot_writes_a_png_of_live_data(tmp_path: Path, short_runtime_dir: Path) -> None:
    shot = tmp_path / "shot.png"
    try:
        result = _run(["--screenshot", str(shot), "--rate", "10"], tmp_path, short_runtime_dir)
    finally:
        stop_daemon(short_runtime_dir / "edge-runtime" / "edge-runtime.sock")
    assert result.returncode == 0, result.stderr
    data = shot.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 20_000
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1400, 900)
    log = (tmp_path / "data" / "edge-console" / "logs" / "console.log").read_text()
    assert "edge_console INFO" not in log and " INFO edge_console " in log  # the console's own records
    assert "edge-console started" in log and "local: connected: runtime 0.1.0" in log


def test_unreachable_device_fails_with_a_sentence(tmp_path: Path, short_runtime_dir: Path) -> None:
    config = tmp_path / "config" / "edge-console"
    config.mkdir(parents=True)
    settings = {"version": 1, "devices": [{"name": "robot-07", "kind": "ssh", "host": "127.0.0.1", "port": 1}]}
    (config / "settings.json").write_text(json.dumps(settings))
    shot = tmp_path / "shot.png"
    result = _run(["--device", "robot-07", "--screenshot", str(shot)], tmp_path, short_runtime_dir)
    assert result.returncode == 3
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("edge-console: ") and "robot-07" in last
    assert "Traceback" not in result.stderr
    log = (tmp_path / "data" / "edge-console" / "logs" / "console.log").read_text()
    assert " WARNING edge_console.session " in log and "robot-07: unreachable" in log
    assert not shot.exists()


def test_unknown_device(tmp_path: Path, short_runtime_dir: Path) -> None:
    result = _run(["--device", "nope"], tmp_path, short_runtime_dir)
    assert result.returncode == 5
    assert "no device named 'nope'" in result.stderr


def test_stop_local_stops_the_runtime_the_window_left_running(tmp_path: Path, short_runtime_dir: Path) -> None:
    socket = short_runtime_dir / "edge-runtime" / "edge-runtime.sock"
    try:
        shown = _run(["--screenshot", str(tmp_path / "shot.png")], tmp_path, short_runtime_dir)
        assert shown.returncode == 0, shown.stderr
        assert socket.is_socket()  # the daemon outlives the window
        stopped = _run(["--stop-local"], tmp_path, short_runtime_dir)
        assert stopped.returncode == 0, stopped.stderr
        assert not socket.exists()
        again = _run(["--stop-local"], tmp_path, short_runtime_dir)  # nothing running is not an error
        assert again.returncode == 0, again.stderr
    finally:
        stop_daemon(socket)
