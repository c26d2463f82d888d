"""``edgectl remove MODEL [--version V]`` and ``edgectl prune --keep N``: stored versions off the device."""

from __future__ import annotations

import argparse
from typing import Any

from console.cli.cmd_package import REFUSALS
from console.cli.registry import Commands
from console.core.app import ConsoleCore
from console.core.devices.client import DeviceError
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from console.core.models.store_client import StoreClient, prune_candidates
from device_runtime.protocol import (
    STORE_ACTION_SUCCEEDED,
    STORE_MODELS,
    STORE_VERSIONS,
    Empty,
    StoreModelRef,
)


def register(sub: Any, commands: Commands) -> None:
    remove = sub.add_parser("remove", help="remove a stored version, or a whole model, from the device")
    remove.add_argument("name")
    remove.add_argument("--version", help="the version to remove (default: the whole model)")
    remove.add_argument("--confirm-active", metavar="VERSION",
                        help="needed to remove the active version: name it, so you know what stops running")
    remove.add_argument("--why", default="", help="a reason, kept in the history")
    commands["remove"] = _remove
    prune = sub.add_parser("prune", help="remove all but the newest N versions of each model (never the active, "
                                         "previous or pinned ones)")
    prune.add_argument("--keep", type=int, required=True, metavar="N")
    prune.add_argument("--model", help="only this model (default: every model)")
    prune.add_argument("--dry-run", action="store_true", help="say what would go, remove nothing")
    commands["prune"] = _prune


def _client(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> StoreClient:
    session = core.session(args.device)
    session.connect()
    return StoreClient(session, env.operator)


def _refused(env: ConsoleEnv, args: argparse.Namespace, exc: DeviceError) -> int:
    if exc.code not in REFUSALS:
        raise exc
    env.stderr.write("edgectl: %s refused: %s\n" % (args.device, exc))
    return ExitCode.ERROR


def _remove(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    try:
        action = _client(core, args, env).remove(args.name, args.version, args.confirm_active, why=args.why)
    except DeviceError as exc:
        return _refused(env, args, exc)
    ok = action.state == STORE_ACTION_SUCCEEDED
    (env.stdout if ok else env.stderr).write("%s%s\n" % ("" if ok else "edgectl: ", action.message))
    return ExitCode.OK if ok else ExitCode.ERROR


def _prune(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    if args.keep < 1:
        env.stderr.write("edgectl: --keep must be 1 or more (remove a whole model with edgectl remove MODEL)\n")
        return ExitCode.USAGE
    try:
        client = _client(core, args, env)
        if args.model:
            names = [args.model]
        else:
            models = client.session.call(STORE_MODELS, Empty())
            names = [m.name for m in models.models]
        failed = 0
        for name in names:
            versions = client.session.call(STORE_VERSIONS, StoreModelRef(name))
            for version in prune_candidates(versions, args.keep):
                if args.dry_run:
                    env.stdout.write("would remove %s %s\n" % (name, version))
                    continue
                action = client.remove(name, version, why="prune --keep %d" % args.keep)
                ok = action.state == STORE_ACTION_SUCCEEDED
                failed += not ok
                (env.stdout if ok else env.stderr).write("%s%s\n" % ("" if ok else "edgectl: ", action.message))
    except DeviceError as exc:
        return _refused(env, args, exc)
    return ExitCode.ERROR if failed else ExitCode.OK
