"""edgectl imports only the module of the command that runs; its table of commands matches the modules."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from console.cli.main import COMMANDS, command_modules, command_word
from console.cli.registry import Commands
from tests.support.daemons import RunningDaemon


def test_the_table_names_each_command_with_the_module_that_registers_it() -> None:
    registered: dict[str, str] = {}
    for module in command_modules():
        commands: Commands = {}
        module.register(argparse.ArgumentParser().add_subparsers(), commands)
        registered.update(dict.fromkeys(commands, module.__name__.rsplit(".", 1)[1]))
    assert list(registered.items()) == list(COMMANDS.items())


@pytest.mark.parametrize(("argv", "word"), [
    (["status"], "status"), (["--device", "robot-1", "fleet", "status"], "fleet"),
    (["-d", "deploy", "deploy"], "deploy"),
    (["--device=robot-1", "df"], "df"), (["--help"], None), (["-h", "status"], None), ([], None), (["--version"], None),
])
def test_the_command_word_is_found_past_edgectls_own_options(argv: list[str], word: str | None) -> None:
    assert command_word(argv) == word


def test_status_imports_only_its_command_module_and_no_numpy_or_paramiko(short_tmp: Path,
                                                                         daemon: RunningDaemon) -> None:
    """What ``edgectl status`` pays on every call: its own module; no telemetry arrays (numpy comes in with
    the first stream) and no SSH (paramiko comes in with the first SSH device)."""
    environ = {"HOME": str(short_tmp), "XDG_CONFIG_HOME": str(short_tmp / "cfg"),
               "XDG_DATA_HOME": str(short_tmp / "data"), "XDG_RUNTIME_DIR": str(short_tmp), "PATH": "/usr/bin:/bin"}

    def edgectl(*argv: str) -> list[object]:
        script = ("import json, sys\nfrom console.cli.main import main\nfrom console.core.env import ConsoleEnv\n"
                  "code = main(sys.argv[1:], ConsoleEnv.from_os())\n"
                  "print(json.dumps([code, sorted(m for m in sys.modules if m.startswith('console.cli.cmd_')),"
                  " [m for m in ('numpy', 'paramiko') if m in sys.modules]]))")
        proc = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, timeout=60,
                              env=environ, cwd=str(Path(__file__).resolve().parents[2]), check=False)
        assert proc.returncode == 0, proc.stderr
        result: list[object] = json.loads(proc.stdout.splitlines()[-1])
        return result

    added = edgectl("devices", "add", "robot", "--socket", str(daemon.socket_path))
    assert added[:2] == [0, ["console.cli.cmd_devices"]]  # devices also trusts host keys: it needs paramiko
    assert edgectl("--device", "robot", "status", "--json") == [0, ["console.cli.cmd_basic"], []]
