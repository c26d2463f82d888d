"""``edgectl preflight`` and ``edgectl install``: commission a robot's runtime over SSH, headless.

``preflight`` only reads; ``install`` prints one progress line per step (JSON lines with ``--json``,
the last one holding the result). When the device already runs another version, ``install`` says
so and leaves it; ``--upgrade`` replaces it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from console import __version__ as console_version
from console.cli.registry import Commands
from console.core.app import ConsoleCore
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from console.core.install.preflight import Preflight, PreflightError
from console.core.install.runtime import (
    UPGRADE_OFFERED,
    InstallError,
    InstallOptions,
    InstallProgress,
    RuntimeInstaller,
    install_target,
)
from console.core.install.wheelhouse import WheelhouseError

STATUS = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}
PROGRESS_EVERY_S = 1.0  # upload progress comes ten times a second; a terminal needs one


def register(sub: Any, commands: Commands) -> None:
    pre = sub.add_parser("preflight", help="check an SSH device before installing the runtime (reads only)")
    _common(pre)
    pre.add_argument("--json", action="store_true", help="the verdict as JSON")
    inst = sub.add_parser("install", help="install (or upgrade) the runtime on an SSH device and connect to it")
    _common(inst)
    inst.add_argument("--upgrade", action="store_true",
                      help="replace an installed runtime whose version differs from this console's (or reinstall)")
    inst.add_argument("--wheelhouse", metavar="DIR", type=Path,
                      help="install from this wheelhouse (installers/device/wheelhouse.sh) instead of the cache")
    inst.add_argument("--json", action="store_true", help="progress and result as JSON lines")
    commands["preflight"] = _preflight
    commands["install"] = _install


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user-install", action="store_true",
                        help="install for the login user (user unit) even where sudo would allow a system install")
    parser.add_argument("--prefix", help="where a user install goes (default: ~/.local/share/edge-runtime)")
    parser.add_argument("--python", help="the device's Python to build the runtime with (default: the device "
                                         "entry's, else python3)")


def _options(args: argparse.Namespace) -> InstallOptions:
    return InstallOptions(upgrade=getattr(args, "upgrade", False), wheelhouse=getattr(args, "wheelhouse", None),
                          force_user=args.user_install, prefix=args.prefix)


def _installer(core: ConsoleCore, args: argparse.Namespace, progress: Any = None) -> RuntimeInstaller:
    entry = core.registry.get(args.device)
    if args.python:
        entry.python = args.python
    return RuntimeInstaller(core.env, entry, core.registry, progress)


def _preflight(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    try:
        installer = _installer(core, args)
    except InstallError as exc:
        env.stderr.write("edgectl: %s\n" % exc)
        return ExitCode.USAGE
    try:
        pre = installer.preflight(_options(args))
    except PreflightError as exc:
        env.stderr.write("edgectl: %s\n" % exc)
        return ExitCode.ERROR
    finally:
        installer.close()
    if args.json:
        # What an install with these options would do (its target and the runtime found there), for
        # callers that must say so without doing it (the Ansible collection's check mode).
        report = pre.to_json()
        report["target"] = install_target(pre, _options(args)).to_json()
        env.stdout.write(json.dumps(report) + "\n")
    else:
        _print_verdict(env, args.device, pre)
    return ExitCode.OK if pre.ok else ExitCode.CHECK_FAILED


def _print_verdict(env: ConsoleEnv, device: str, pre: Preflight) -> None:
    env.stdout.write("Preflight of %s:\n" % device)
    for check in pre.checks:
        env.stdout.write("  %s  %-22s %s\n" % (STATUS.get(check.status, check.status), check.title, check.sentence))
    env.stdout.write("Ready to install.\n" if pre.ok else "Not ready: fix the FAIL items first.\n")


class _Printer:
    """Progress lines, with the upload's many updates thinned to one a second."""

    def __init__(self, env: ConsoleEnv, as_json: bool) -> None:
        self.env = env
        self.as_json = as_json
        self._last: dict[str, float] = {}

    def __call__(self, p: InstallProgress) -> None:
        now = time.monotonic()
        if p.fraction is not None and p.fraction < 1.0 and now - self._last.get(p.stage, -1e9) < PROGRESS_EVERY_S:
            return
        self._last[p.stage] = now
        if self.as_json:
            self.env.stdout.write(json.dumps({"stage": p.stage, "text": p.text, "fraction": p.fraction}) + "\n")
        else:
            self.env.stdout.write("[%s] %s\n" % (p.stage, p.text))
        self.env.stdout.flush()


def _install(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    printer = _Printer(env, args.json)
    try:
        installer = _installer(core, args, printer)
    except InstallError as exc:
        env.stderr.write("edgectl: %s\n" % exc)
        return ExitCode.USAGE
    try:
        result = installer.install(_options(args))
    except InstallError as exc:
        return _failed(env, args, exc.stage, str(exc),
                       ExitCode.CHECK_FAILED if exc.stage == "preflight" else ExitCode.ERROR)
    except (WheelhouseError, PreflightError) as exc:
        return _failed(env, args, "wheelhouse" if isinstance(exc, WheelhouseError) else "preflight", str(exc),
                       ExitCode.ERROR)
    finally:
        installer.close()
    if args.json:
        env.stdout.write(json.dumps({"result": result.to_json()}) + "\n")
    if result.outcome == UPGRADE_OFFERED:
        env.stderr.write("edgectl: %s runs runtime %s and this console is %s; nothing was changed. Run again with "
                         "--upgrade to install %s\n" % (args.device, result.previous_version, console_version,
                                                         console_version))
        return ExitCode.ERROR
    if not args.json:
        env.stdout.write("%s: runtime %s %s in %s (%s install); connected.\n"
                         % (args.device, result.runtime_version, result.outcome, result.prefix, result.mode))
    return ExitCode.OK


def _failed(env: ConsoleEnv, args: argparse.Namespace, stage: str, message: str, code: int) -> int:
    if args.json:
        env.stdout.write(json.dumps({"error": message, "stage": stage}) + "\n")
    env.stderr.write("edgectl: %s\n" % message)
    return code
