"""``edgectl``: devices, status and live telemetry from scripts."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import ModuleType

from console import __version__
from console.cli import (
    cmd_alerts,
    cmd_basic,
    cmd_commission,
    cmd_deploy,
    cmd_devices,
    cmd_df,
    cmd_fleet,
    cmd_health,
    cmd_install,
    cmd_jobs,
    cmd_latency,
    cmd_package,
    cmd_push,
    cmd_remove,
)
from console.cli.registry import Commands
from console.core.app import ConsoleCore
from console.core.client import DeviceError, IncompatibleRuntime
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from console.core.registry import UnknownDevice
from console.core.settings import LOCAL_DEVICE, SettingsError
from console.transport.base import TransportError
from console.transport.hostkeys import UnknownHostKey
from console.transport.ssh_prompts import SshPrompts

# Command modules, in the order their commands appear in --help.
COMMAND_MODULES: list[ModuleType] = [cmd_devices, cmd_basic, cmd_jobs, cmd_alerts, cmd_latency, cmd_package,
                                     cmd_deploy, cmd_remove, cmd_push, cmd_df, cmd_health, cmd_commission,
                                     cmd_install, cmd_fleet]


def _parser() -> tuple[argparse.ArgumentParser, Commands]:
    parser = argparse.ArgumentParser(prog="edgectl", description="Edge Operator Console, headless")
    parser.add_argument("--version", action="version", version="edgectl %s" % __version__)
    parser.add_argument("--device", "-d", default=LOCAL_DEVICE, help="device name (default: local)")
    sub = parser.add_subparsers(dest="command")
    commands: Commands = {}
    for module in COMMAND_MODULES:
        module.register(sub, commands)
    return parser, commands


def main(argv: list[str] | None = None, env: ConsoleEnv | None = None) -> int:
    env = env or ConsoleEnv.from_os()
    if argv is None and threading.current_thread() is threading.main_thread():
        # Ctrl-C must reach a job's follow loop (detach or cancel) even when edgectl was started
        # with SIGINT ignored, as a script's background command is.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if type(env.ssh_prompts) is SshPrompts:  # nobody chose how to ask: ask on the terminal, if there is one
        env.ssh_prompts = cmd_devices.TerminalPrompts(env)
    parser, commands = _parser()
    args = parser.parse_args(argv)
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
