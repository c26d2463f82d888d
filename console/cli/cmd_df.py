"""``edgectl df``: what the device's store holds on its disk (models, uploads in incoming/ with
their size and age, free space and the reserve), and ``--remove-upload ID`` to take an upload
nobody needs off the device."""

from __future__ import annotations

import argparse
import json
from typing import Any

from console.cli.cmd_package import REFUSALS
from console.cli.registry import Commands
from console.core.app import ConsoleCore
from console.core.devices.client import DeviceError
from console.core.devices.session import DeviceSession
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from device_runtime.protocol import STORE_DF, STORE_INCOMING_REMOVE, Empty, IncomingEntry, StoreActionRef, StoreUsage

MIN_ID_CHARS = 8


def register(sub: Any, commands: Commands) -> None:
    df = sub.add_parser("df", help="the store's use of the device's disk: models, uploads, free space")
    df.add_argument("--json", action="store_true", help="the figures as one JSON object (bytes and seconds)")
    df.add_argument("--remove-upload", metavar="ID",
                    help="remove this upload from incoming/ (its id, or its first %d characters or more)"
                         % MIN_ID_CHARS)
    commands["df"] = _df


def _mb(n: int) -> str:
    return "%.1f GB" % (n / 1e9) if n >= 10**10 else "%.1f MB" % (n / 1e6)


def _age(seconds: float) -> str:
    if seconds < 120:
        return "%.0f s" % seconds
    if seconds < 7200:
        return "%.0f min" % (seconds / 60)
    return "%.1f h" % (seconds / 3600)


def usage_lines(usage: StoreUsage, device: str) -> list[str]:
    lines = ["%s: the store's disk is %s, %s free (%s kept in reserve for imports)" % (
        device, _mb(usage.total_bytes), _mb(usage.free_bytes), _mb(usage.reserve_bytes))]
    lines.append("models (%s)" % _mb(sum(m.bytes for m in usage.models)))
    for model in usage.models:
        lines.append("  %-24s %3d version%s  %10s" % (model.name, model.versions, " " if model.versions == 1 else "s",
                                                     _mb(model.bytes)))
    if not usage.models:
        lines.append("  none")
    lines.append("uploads in incoming/ (%s; removed after %s untouched)" % (
        _mb(sum(e.bytes for e in usage.incoming)), _age(usage.incoming_max_age_s)))
    for entry in usage.incoming:
        lines.append("  %s  %s" % (entry.id[:16], _entry_text(entry)))
    if not usage.incoming:
        lines.append("  none")
    return lines


def _entry_text(entry: IncomingEntry) -> str:
    name = entry.filename or "(no name)"
    if entry.kind == "partial":
        return "%s: %s of %s received, %s old; push it again to resume" % (
            name, _mb(entry.bytes), _mb(entry.size), _age(entry.age_s))
    return "%s: %s received whole, not imported, %s old; deploy it again (after trusting its key) or remove it" % (
        name, _mb(entry.bytes), _age(entry.age_s))


def _df(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    session = core.session(args.device)
    session.connect()
    try:
        usage = session.call(STORE_DF, Empty())
        if args.remove_upload:
            return _remove(session, usage, args, env)
    except DeviceError as exc:
        if exc.code not in REFUSALS:
            raise
        env.stderr.write("edgectl: %s refused: %s\n" % (args.device, exc))
        return ExitCode.ERROR
    if args.json:
        env.stdout.write(json.dumps(usage.to_wire(), ensure_ascii=False) + "\n")
    else:
        env.stdout.write("\n".join(usage_lines(usage, session.entry.display_name)) + "\n")
    return ExitCode.OK


def _remove(session: DeviceSession, usage: StoreUsage, args: argparse.Namespace, env: ConsoleEnv) -> int:
    wanted = args.remove_upload.strip().lower()
    matches = [e for e in usage.incoming if e.id.startswith(wanted)] if len(wanted) >= MIN_ID_CHARS else []
    if len(matches) != 1:
        env.stderr.write("edgectl: %s matches %s upload in incoming/ (give at least %d characters of an id that "
                         "edgectl df lists). Nothing was removed.\n" % (
                             wanted, "no" if not matches else "more than one", MIN_ID_CHARS))
        return ExitCode.USAGE
    (entry,) = matches
    after = session.call(STORE_INCOMING_REMOVE, StoreActionRef(entry.id))
    env.stdout.write("removed %s (%s, %s) from incoming/; %s free now\n" % (
        entry.id[:16], entry.filename or "no name", _mb(entry.bytes), _mb(after.free_bytes)))
    return ExitCode.OK
