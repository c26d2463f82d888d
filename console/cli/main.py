"""``edgectl``: devices, status and live telemetry from scripts."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from types import ModuleType

from console import __version__
from console.cli.registry import Commands
from console.core.app import ConsoleCore
from console.core.devices.client import DeviceError, IncompatibleRuntime
from console.core.devices.registry import UnknownDevice
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from console.core.settings import LOCAL_DEVICE, SettingsError
from console.transport.base import TransportError
from console.transport.hostkeys import UnknownHostKey
from console.transport.ssh_prompts import SshPrompts

# Every command and the module under console/cli that registers it, in --help order. Only the running
# command's module is imported: the others would cost import time on every call, and scripts (a fleet's
# Ansible run) call edgectl often. tests/console/test_cli_commands.py checks this table against the modules.
COMMANDS: dict[str, str] = {
    "devices": "cmd_devices",
    "status": "cmd_basic", "watch": "cmd_basic",
    "validate": "cmd_jobs", "quantize": "cmd_jobs", "build": "cmd_jobs", "bench": "cmd_jobs",
    "accuracy": "cmd_jobs", "jobs": "cmd_jobs", "job": "cmd_jobs",
    "alerts": "cmd_alerts", "thresholds": "cmd_alerts",
    "latency": "cmd_latency", "probe": "cmd_latency",
    "package": "cmd_package", "keys": "cmd_package",
    "deploy": "cmd_deploy", "rollback": "cmd_deploy", "versions": "cmd_deploy", "history": "cmd_deploy",
    "pin": "cmd_deploy", "unpin": "cmd_deploy",
    "remove": "cmd_remove", "prune": "cmd_remove",
    "push": "cmd_push",
    "df": "cmd_df",
    "health": "cmd_health", "health-config": "cmd_health", "audit": "cmd_health",
    "commission": "cmd_commission",
    "preflight": "cmd_install", "install": "cmd_install",
    "fleet": "cmd_fleet",
    "metrics-tunnel": "cmd_metrics",
}


def command_modules(command: str | None = None) -> list[ModuleType]:
    """The module that registers ``command``; every module when it is None or unknown (help, a typo)."""
    names = [COMMANDS[command]] if command in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    return [importlib.import_module("console.cli." + name) for name in names]


def command_word(argv: list[str]) -> str | None:
    """The command in ``argv``, past edgectl's own options; None where help is asked for or none is given."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("-h", "--help"):
            return None
        elif arg in ("--device", "-d"):
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def _parser(command: str | None = None) -> tuple[argparse.ArgumentParser, Commands]:
    parser = argparse.ArgumentParser(prog="edgectl", description="Edge Operator Console, headless")
    parser.add_argument("--version", action="version", version="edgectl %s" % __version__)
    parser.add_argument("--device", "-d", default=LOCAL_DEVICE, help="device name (default: local)")
    sub = parser.add_subparsers(dest="command")
    commands: Commands = {}
    for module in command_modules(command):
        module.register(sub, commands)
    return parser, commands


def main(argv: list[str] | None = None, env: ConsoleEnv | None = None) -> int:
    env = env or ConsoleEnv.from_os()
    if argv is None and threading.current_thread() is threading.main_thread():
        # Ctrl-C must reach a job's follow loop (detach or cancel) even when edgectl was started
        # with SIGINT ignored, as a script's background command is.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if type(env.ssh_prompts) is SshPrompts:  # nobody chose how to ask: ask on the terminal, if there is one
        from console.cli.terminal_prompts import TerminalPrompts

        env.ssh_prompts = TerminalPrompts(env)
    words = sys.argv[1:] if argv is None else argv
    parser, commands = _parser(command_word(words))
    args = parser.parse_args(words)
    if args.command is None:
        parser.print_help(env.stdout)
        return ExitCode.USAGE
    try:
        core = ConsoleCore(env)
    except SettingsError as exc:
        env.stderr.write("edgectl: %s\n" % exc)
        return ExitCode.ERROR
    try:
        return commands[args.command](core, args, env)
    except UnknownDevice as exc:
        env.stderr.write("edgectl: %s\n" % exc)
        return ExitCode.UNKNOWN_DEVICE
    except UnknownHostKey as exc:
        env.stderr.write("edgectl: cannot reach %s: %s\nOnce the fingerprint is confirmed: edgectl devices trust %s "
                         "--fingerprint %s\n" % (args.device, exc, getattr(args, "name", args.device), exc.fingerprint))
        return ExitCode.UNREACHABLE
    except IncompatibleRuntime as exc:
        env.stderr.write("edgectl: %s\n" % exc)
        return ExitCode.INCOMPATIBLE
    except (DeviceError, TransportError) as exc:
        env.stderr.write("edgectl: cannot reach %s: %s\n" % (args.device, exc))
        return ExitCode.UNREACHABLE
    except KeyboardInterrupt:
        return ExitCode.OK
    except BrokenPipeError:  # `edgectl watch | head`: the reader left, which is fine
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - silence the interpreter's flush at exit
        return ExitCode.OK
    finally:
        core.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
