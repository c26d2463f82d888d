"""``edgectl deploy|rollback|versions|history|pin|unpin``: the device's model store (``--device``)."""

from __future__ import annotations

import argparse
import datetime
import json
import tempfile
import threading
from pathlib import Path
from typing import Any

from console.cli.cmd_package import REFUSALS, add_warmup_options, warmup_options
from console.cli.registry import Commands
from console.core.app import ConsoleCore
from console.core.devices.client import DeviceError
from console.core.devices.keys import KeyError_, KeyStore
from console.core.devices.session import DeviceSession
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from console.core.models.deploy import (
    Deploy,
    DeployEvent,
    DeployListener,
    DeploySourceError,
    Phase,
    device_versions,
    is_onnx,
    onnx_build,
)
from console.core.models.packages import PackageError, prepare_model
from console.core.models.store_client import StoreClient
from console.core.models.tracker import default_model_name
from device_runtime.package_format.errors import StoreError
from device_runtime.protocol import (
    STORE_ACTION_SUCCEEDED,
    STORE_HISTORY,
    STORE_PIN,
    STORE_UNPIN,
    STORE_VERSIONS,
    StoreAction,
    StoreHistoryQuery,
    StoreModelRef,
    StorePin,
)


def register(sub: Any, commands: Commands) -> None:
    deploy = sub.add_parser("deploy", help="upload, verify and activate a package or an ONNX model")
    deploy.add_argument("package", type=Path, help="a .tar.gz package or an .onnx model")
    deploy.add_argument("--name", help="for an ONNX model: the model name (default: the file name)")
    deploy.add_argument("--version", help="for an ONNX model: the version (default: the next patch version)")
    deploy.add_argument("--key", help="for an ONNX model: sign the package with this key")
    deploy.add_argument("--import-only", action="store_true", help="store it without activating it")
    add_warmup_options(deploy)
    _action_options(deploy)
    deploy.add_argument("--allow-downgrade", action="store_true", help="activate a version older than the active one")
    commands["deploy"] = _deploy
    rollback = sub.add_parser("rollback", help="return a model to its previous (or a named) version")
    rollback.add_argument("name")
    rollback.add_argument("--to", help="the version to return to (default: the previous one)")
    _action_options(rollback)
    commands["rollback"] = _rollback
    versions = sub.add_parser("versions", help="the versions of a model on the device")
    versions.add_argument("name")
    versions.add_argument("--json", action="store_true")
    commands["versions"] = _versions
    hist = sub.add_parser("history", help="a model's activation history on the device")
    hist.add_argument("name")
    hist.add_argument("--limit", type=int, default=50)
    hist.add_argument("--json", action="store_true")
    commands["history"] = _history
    for verb in ("pin", "unpin"):
        p = sub.add_parser(verb, help="%s a version (pinned versions are never removed)" % verb)
        p.add_argument("name")
        p.add_argument("version")
        commands[verb] = _pin


def _action_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--why", default="", help="a reason, kept in the history")
    parser.add_argument("--force", action="store_true",
                        help="go ahead if the robot still holds the swap inhibit lock after the wait (recorded)")
    parser.add_argument("--wait", type=float, help="seconds to wait for the inhibit lock (default: the device's)")
    parser.add_argument("--json", action="store_true", help="print the final action as JSON")


def _connect(core: ConsoleCore, args: argparse.Namespace) -> DeviceSession:
    session = core.session(args.device)
    session.connect()
    return session


def _client(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> tuple[DeviceSession, StoreClient]:
    session = core.session(args.device)
    session.connect()
    return session, StoreClient(session, env.operator)


def _printer(env: ConsoleEnv, quiet: bool) -> Any:
    last: list[str] = []

    def show(action: StoreAction) -> None:
        if quiet or not action.stage or last[-1:] == [action.stage]:
            return
        last.append(action.stage)
        env.stdout.write("[%3.0f%%] %s\n" % (action.progress * 100, action.stage))
        env.stdout.flush()
    return show


def _report(env: ConsoleEnv, action: StoreAction, as_json: bool) -> int:
    if as_json:
        env.stdout.write(json.dumps(action.to_wire(), ensure_ascii=False) + "\n")
    ok = action.state == STORE_ACTION_SUCCEEDED
    if not as_json:
        stream = env.stdout if ok else env.stderr
        stream.write("%s%s\n" % ("" if ok else "edgectl: ", action.message))
        for note in action.notes:
            stream.write("  %s\n" % note)
    return ExitCode.OK if ok else ExitCode.ERROR


def _refused(env: ConsoleEnv, args: argparse.Namespace, exc: DeviceError) -> int:
    if exc.code not in REFUSALS:
        raise exc
    env.stderr.write("edgectl: %s refused: %s\n" % (args.device, exc))
    return ExitCode.ERROR


def _deploy(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    if not args.package.is_file():
        env.stderr.write("edgectl: %s is not a file\n" % args.package)
        return ExitCode.USAGE
    onnx = is_onnx(args.package)
    if not onnx and (args.shape or args.sample):
        env.stderr.write("edgectl: --shape and --sample apply to an .onnx model; a package carries its own "
                         "(edgectl package build ... --shape/--sample)\n")
        return ExitCode.USAGE
    if onnx:  # the model is read and hashed while the device is being reached
        threading.Thread(target=prepare_model, args=(args.package,), name="prepare-model", daemon=True).start()
    try:
        warmup = warmup_options(args)
        session, client = _client(core, args, env)
        with tempfile.TemporaryDirectory(prefix="eoc-deploy-") as scratch:
            build = None
            if onnx:
                name = args.name or default_model_name(args.package)
                key = KeyStore(env.config_dir / "keys").private_key(args.key) if args.key else None
                build = onnx_build(args.package, env.operator, device_versions(session, name) if not args.version
                                   else None, name, args.version, key=key, **warmup)
            deploy = Deploy(client, args.package, build, Path(scratch), _presenter(env, args.json), stream=True)
            deploy.make_package()
            if not args.json:
                try:
                    lines = deploy.ask_preview().lines(args.device)
                except DeploySourceError:
                    lines = []  # a package this computer cannot read: the device refuses it in its own words
                for line in lines:
                    env.stdout.write(line + "\n")
            action = deploy.run(not args.import_only, args.allow_downgrade, args.force, args.why, args.wait)
    except (PackageError, KeyError_, StoreError, DeploySourceError) as exc:
        env.stderr.write("edgectl: %s\n" % exc)
        return ExitCode.ERROR
    except DeviceError as exc:
        return _refused(env, args, exc)
    return _report(env, action, args.json)


def _presenter(env: ConsoleEnv, quiet: bool) -> DeployListener:
    """A deploy's steps as edgectl prints them: the packaging, the upload in tenths, the device's stages."""
    shown = [-1]
    stage = _printer(env, quiet)

    def show(event: DeployEvent) -> None:
        if quiet:
            return
        if event.phase is Phase.PACKAGED:
            env.stdout.write(event.words + "\n")
        elif event.phase is Phase.SENT:
            step = event.done * 10 // max(event.total, 1)
            if step != shown[0]:
                shown[0] = step
                env.stdout.write("uploading %.1f / %.1f MB\n" % (event.done / 1e6, event.total / 1e6))
        elif event.action is not None:
            stage(event.action)
    return show


def _rollback(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    try:
        _session, client = _client(core, args, env)
        action = client.rollback(args.name, args.to, _printer(env, args.json), args.force, args.why, args.wait)
    except DeviceError as exc:
        return _refused(env, args, exc)
    return _report(env, action, args.json)


def _versions(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    try:
        session = _connect(core, args)
        result = session.call(STORE_VERSIONS, StoreModelRef(args.name))
    except DeviceError as exc:
        return _refused(env, args, exc)
    if args.json:
        env.stdout.write(json.dumps(result.to_wire(), ensure_ascii=False) + "\n")
        return ExitCode.OK
    if not result.versions:
        env.stdout.write("%s has no versions on %s\n" % (args.name, args.device))
        return ExitCode.OK
    env.stdout.write("%-14s %-24s %-10s %-12s %9s  %-16s %s\n" % (
        "VERSION", "STATUS", "PRECISION", "BACKEND", "SIZE", "SIGNER", "CREATED"))
    for v in result.versions:
        env.stdout.write("%-14s %-24s %-10s %-12s %6.1f MB  %-16s %s\n" % (
            v.version, ",".join(v.status) or "-", v.precision, v.backend, v.size_bytes / 1e6, v.signer or "unsigned",
            v.created))
        if v.reason:
            env.stdout.write("               %s\n" % v.reason)
    env.stdout.write("security floor: %d\n" % result.floor)
    return ExitCode.OK


def _history(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    try:
        session = _connect(core, args)
        result = session.call(STORE_HISTORY, StoreHistoryQuery(args.name, args.limit))
    except DeviceError as exc:
        return _refused(env, args, exc)
    if args.json:
        env.stdout.write(json.dumps(result.to_wire(), ensure_ascii=False) + "\n")
        return ExitCode.OK
    for e in result.entries:
        when = datetime.datetime.fromtimestamp(e.t).strftime("%Y-%m-%d %H:%M:%S")
        move = "%s -> %s" % (e.from_version or "-", e.to_version or "-")
        env.stdout.write("%s  %-9s %-12s %-18s %-20s %s%s\n" % (when, e.action, e.result, move, e.who, e.why,
                                                                 (" [%s]" % e.detail) if e.detail else ""))
    return ExitCode.OK


def _pin(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    try:
        session = _connect(core, args)
        method = STORE_PIN if args.command == "pin" else STORE_UNPIN
        session.call(method, StorePin(args.name, args.version, env.operator))
    except DeviceError as exc:
        return _refused(env, args, exc)
    env.stdout.write("%s %s %s on %s\n" % (args.name, args.version, "pinned" if args.command == "pin" else "unpinned",
                                           args.device))
    return ExitCode.OK
