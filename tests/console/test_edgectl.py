"""edgectl end to end against the real local runtime."""

from __future__ import annotations

import io
import itertools
import json
import subprocess
import sys

from console.cli.main import ExitCode, main
from console.core.env import ConsoleEnv
from device_runtime.protocol import PROTOCOL_VERSION


def _run(env: ConsoleEnv, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    env.stdout, env.stderr = out, err
    code = main(list(argv), env)
    return code, out.getvalue(), err.getvalue()


def test_status_prints_the_handshake(console_env: ConsoleEnv) -> None:
    code, out, _ = _run(console_env, "status")
    assert code == ExitCode.OK
    assert "runtime           0.1.0" in out and "protocol          %d" % PROTOCOL_VERSION in out and "backends" in out
    code, out, _ = _run(console_env, "status", "--json")
    report = json.loads(out)
    assert report["protocol"] == PROTOCOL_VERSION and report["runtime_version"] == "0.1.0"
    assert report["capabilities"]["cpu_count"] >= 1


def test_watch_streams_json_lines_at_the_rate_asked(console_env: ConsoleEnv) -> None:
    code, out, err = _run(console_env, "watch", "--rate", "10", "--seconds", "1.5", "--json")
    assert code == ExitCode.OK, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert 8 <= len(lines) <= 20
    times = [line["t"] for line in lines]
    assert times == sorted(times)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert 0.05 < sum(gaps) / len(gaps) < 0.2
    assert all("cpu.load" in line["values"] for line in lines)


def test_watch_text_has_units(console_env: ConsoleEnv) -> None:
    code, out, _ = _run(console_env, "watch", "--rate", "5", "--seconds", "0.8")
    assert code == ExitCode.OK
    assert " %" in out and " MB" in out


def test_watch_refuses_a_rate_out_of_range(console_env: ConsoleEnv) -> None:
    code, _, err = _run(console_env, "watch", "--rate", "50")
    assert code == ExitCode.USAGE and "between 1 and 20 Hz" in err


def test_devices_always_lists_local(console_env: ConsoleEnv) -> None:
    code, out, _ = _run(console_env, "devices", "--json")
    assert code == ExitCode.OK
    assert json.loads(out)[0] == {"name": "local", "kind": "local", "label": "This computer", "host": None,
                                  "tags": []}


def test_unknown_device_exit_code(console_env: ConsoleEnv) -> None:
    code, _, err = _run(console_env, "--device", "robot-99", "status")
    assert code == ExitCode.UNKNOWN_DEVICE and "robot-99" in err


def test_damaged_settings_file_is_named(console_env: ConsoleEnv) -> None:
    console_env.settings_path.parent.mkdir(parents=True)
    console_env.settings_path.write_text("{oops")
    code, _, err = _run(console_env, "devices")
    assert code == ExitCode.ERROR and "settings.json is not valid JSON" in err


def test_the_installed_entry_point_runs(console_env: ConsoleEnv) -> None:
    env = {"HOME": str(console_env.config_dir.parent), "XDG_RUNTIME_DIR": str(console_env.runtime_dir),
           "XDG_DATA_HOME": str(console_env.data_dir.parent), "PATH": "/usr/bin:/bin"}
    console_env.runtime_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-m", "console.cli.main", "--version"], capture_output=True,
                          text=True, env=env, timeout=60, check=False)
    assert proc.returncode == 0 and "edgectl 0.1.0" in proc.stdout
