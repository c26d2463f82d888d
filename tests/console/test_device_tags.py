"""Device tags in the registry: ``edgectl devices add --tag``, ``devices tag``, and the settings file."""

from __future__ import annotations

import io
import json

import pytest

from console.cli.main import main
from console.core.devices.registry import DeviceRegistry
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from console.core.settings import Settings, SettingsError


def _run(env: ConsoleEnv, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    env.stdout, env.stderr = out, err
    code = main(list(argv), env)
    return code, out.getvalue(), err.getvalue()


def _tags(env: ConsoleEnv) -> dict[str, list[str]]:
    code, out, err = _run(env, "devices", "--json")
    assert code == ExitCode.OK, err
    return {row["name"]: row["tags"] for row in json.loads(out)}


def test_tags_are_added_changed_listed_and_kept(console_env: ConsoleEnv) -> None:
    code, _, err = _run(console_env, "devices", "add", "robot-1", "--host", "10.0.0.7", "--tag", "orin-nx",
                        "--tag", "lab-a", "--tag", "lab-a")
    assert code == ExitCode.OK, err
    code, _, err = _run(console_env, "devices", "add", "robot-2", "--socket", "rt/robot-2.sock", "--tag", "lab-b")
    assert code == ExitCode.OK, err
    assert _tags(console_env) == {"local": [], "robot-1": ["lab-a", "orin-nx"], "robot-2": ["lab-b"]}
    robot_2 = DeviceRegistry(console_env).get("robot-2")
    assert robot_2.kind == "socket" and robot_2.socket is not None and robot_2.socket.endswith("/rt/robot-2.sock")

    code, out, err = _run(console_env, "devices", "tag", "robot-1", "--add", "customer-x", "--remove", "lab-a")
    assert code == ExitCode.OK, err
    assert out == "robot-1: customer-x, orin-nx\n"
    code, _, err = _run(console_env, "devices", "tag", "local", "--add", "lab-b")
    assert code == ExitCode.OK, err
    code, out, _ = _run(console_env, "devices")
    assert "robot-1          ssh    10.0.0.7  [customer-x, orin-nx]" in out
    registry = DeviceRegistry(console_env)
    assert [d.name for d in registry.tagged(["lab-b"])] == ["local", "robot-2"]
    assert [d.name for d in registry.tagged(["orin-nx", "customer-x"])] == ["robot-1"]
    assert registry.tagged(["orin-nx", "lab-b"]) == []


def test_bad_tags_and_unknown_devices_change_nothing(console_env: ConsoleEnv) -> None:
    code, _, err = _run(console_env, "devices", "add", "robot-1", "--host", "h", "--tag", "Lab A")
    assert code == ExitCode.USAGE and "tag 'Lab A' is not usable" in err
    code, _, err = _run(console_env, "devices", "add", "robot-1", "--host", "h", "--tag", "lab-a")
    assert code == ExitCode.OK, err
    code, _, err = _run(console_env, "devices", "tag", "robot-1", "--add", "ok", "--add", "no/slash")
    assert code == ExitCode.USAGE and "'no/slash' is not usable" in err and "nothing was changed" in err
    code, _, err = _run(console_env, "devices", "tag", "robot-1")
    assert code == ExitCode.USAGE and "--add TAG and/or --remove TAG" in err
    code, _, err = _run(console_env, "devices", "tag", "robot-9", "--add", "x")
    assert code == ExitCode.UNKNOWN_DEVICE and "no registered device named 'robot-9'" in err
    assert _tags(console_env) == {"local": [], "robot-1": ["lab-a"]}


@pytest.mark.parametrize("tags", ["lab-a", [1], {"a": 1}])
def test_a_settings_file_with_bad_tags_is_refused_by_name(tags: object) -> None:
    data = {"version": 1, "devices": [{"name": "robot-1", "host": "h", "tags": tags}]}
    with pytest.raises(SettingsError, match="device 'robot-1' has tags"):
        Settings.from_json(data)
