"""``edgectl package build|inspect|sign`` and ``edgectl keys new|list|export|trust``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from console.cli.registry import Commands
from console.core.app import ConsoleCore
from console.core.devices.client import DeviceError
from console.core.devices.keys import KeyError_, KeyStore
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from console.core.jobs.specs import SpecError, parse_shapes
from console.core.models.deploy import onnx_build, package_model
from console.core.models.packages import EngineBuild, PackageError, inspect_package, sign_package
from console.core.models.tracker import STORE_CODES
from device_runtime.package_format.tensors import spell
from device_runtime.protocol import STORE_KEYS_TRUST, ErrorCode, StoreKey

# Error codes of requests the device understood and refused (anything else: it could not be reached).
REFUSALS = frozenset({ErrorCode.FAILED, ErrorCode.BAD_FIELD, ErrorCode.UNKNOWN_METHOD, ErrorCode.NOT_ALLOWED,
                      *STORE_CODES})


def register(sub: Any, commands: Commands) -> None:
    package = sub.add_parser("package", help="build, inspect and sign model packages")
    actions = package.add_subparsers(dest="package_command", required=True)
    build = actions.add_parser("build", help="build a package from an ONNX model")
    build.add_argument("model", type=Path)
    build.add_argument("-o", "--output", type=Path, required=True)
    build.add_argument("--name", help="model name (default: the file name)")
    build.add_argument("--version", default="1.0.0", help="semantic version (default 1.0.0)")
    build.add_argument("--author", help="default: your user name")
    build.add_argument("--precision", help="fp32, fp16, int8 (default: read from the model)")
    build.add_argument("--security-counter", type=int, default=0,
                       help="raise it to stop older packages from being deployed again")
    build.add_argument("--file", type=Path, action="append", default=[], help="extra file (labels, config, ...)")
    build.add_argument("--engine", type=Path, help="a TensorRT engine built from MODEL")
    build.add_argument("--tensorrt", help="TensorRT version the engine was built with")
    build.add_argument("--compute-capability", help="GPU compute capability the engine was built for")
    build.add_argument("--l4t", help="L4T release the engine was built on")
    build.add_argument("--dla", type=int, help="DLA core the engine targets")
    build.add_argument("--key", help="sign with this key (name or .key file)")
    add_warmup_options(build)
    inspect = actions.add_parser("inspect", help="show a package's manifest and check its files")
    inspect.add_argument("package", type=Path)
    inspect.add_argument("--json", action="store_true")
    sign = actions.add_parser("sign", help="sign a package")
    sign.add_argument("package", type=Path)
    sign.add_argument("--key", required=True, help="key name or .key file")
    commands["package"] = _package

    keys = sub.add_parser("keys", help="package signing keys")
    key_actions = keys.add_subparsers(dest="keys_command", required=True)
    new = key_actions.add_parser("new", help="make a key pair")
    new.add_argument("name")
    key_actions.add_parser("list", help="list your keys and, with --device, the keys a device trusts")
    export = key_actions.add_parser("export", help="print a public key (give it to devices)")
    export.add_argument("name")
    trust = key_actions.add_parser("trust", help="make the device (--device) trust a public key")
    trust.add_argument("public_key", help="a .pub file or the key line itself")
    commands["keys"] = _keys


def _package(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    store = KeyStore(env.config_dir / "keys")
    try:
        if args.package_command == "build":
            return _build(args, env, store)
        if args.package_command == "inspect":
            return _inspect(args, env)
        signature = sign_package(args.package, store.private_key(args.key))
        env.stdout.write("signed %s with key %s\n" % (args.package, signature.key_id))
        return ExitCode.OK
    except (PackageError, KeyError_) as exc:
        env.stderr.write("edgectl: %s\n" % exc)
        return ExitCode.ERROR
    except OSError as exc:
        env.stderr.write("edgectl: %s: %s\n" % (exc.filename or "", exc.strerror))
        return ExitCode.ERROR


def add_warmup_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shape", action="append", default=[], metavar="NAME:DxD",
                        help="the warm-up's size for a dynamic input, e.g. images:1x3x640x640 (repeat per input)")
    parser.add_argument("--sample", type=Path, metavar="FILE.npz",
                        help="a real input for the warm-up (numpy.savez(FILE, INPUT=array, ...)), kept in the package")


def warmup_options(args: argparse.Namespace) -> dict[str, Any]:
    """``shapes`` and ``sample`` for build_package; raises PackageError on a malformed ``--shape``."""
    try:
        shapes = parse_shapes(args.shape)
    except SpecError as exc:
        raise PackageError(str(exc)) from None
    if args.sample is not None and not args.sample.is_file():
        raise PackageError("--sample %s is not a file" % args.sample)
    return {"shapes": shapes, "sample": args.sample}


def _build(args: argparse.Namespace, env: ConsoleEnv, store: KeyStore) -> int:
    if not args.model.is_file():
        env.stderr.write("edgectl: %s is not a file\n" % args.model)
        return ExitCode.USAGE
    engine = None
    if args.engine is not None:
        if not args.tensorrt or not args.compute_capability:
            env.stderr.write("edgectl: --engine needs --tensorrt and --compute-capability (what it was built on)\n")
            return ExitCode.USAGE
        engine = EngineBuild(args.engine, args.tensorrt, args.compute_capability,
                             "dla%d" % args.dla if args.dla is not None else "gpu", args.l4t)
    key = store.private_key(args.key) if args.key else None
    build = onnx_build(args.model, args.author or env.local_user, name=args.name, version=args.version, key=key,
                       precision=args.precision, security_counter=args.security_counter, extra=tuple(args.file),
                       engine=engine, **warmup_options(args))
    manifest = package_model(args.model, args.output, build)
    env.stdout.write("built %s: %s %s, %d file(s), %.1f MB%s\n" % (
        args.output, manifest.name, manifest.version, len(manifest.files), manifest.total_size / 1e6,
        ", signed" if key is not None else ", unsigned"))
    return ExitCode.OK


def _inspect(args: argparse.Namespace, env: ConsoleEnv) -> int:
    info = inspect_package(args.package)
    m = info.manifest
    if args.json:
        env.stdout.write(json.dumps({"manifest": m.to_dict(), "signer": info.signer, "verified": info.verified,
                                     "problems": info.problems, "size_bytes": info.size_bytes}) + "\n")
        return ExitCode.OK if info.verified else ExitCode.ERROR
    out = env.stdout
    out.write("%s %s  (%s, %s)\n" % (m.name, m.version, m.backend, m.precision))
    out.write("created %s by %s, security counter %d\n" % (m.created, m.author, m.security_counter))
    out.write("signature: %s\n" % ("key %s" % info.signer if info.signer else "none (unsigned)"))
    if m.engine is not None:
        out.write("engine: TensorRT %s, compute capability %s, target %s%s\n" % (
            m.engine.tensorrt, m.engine.compute_capability, m.engine.target,
            ", L4T %s" % m.engine.l4t if m.engine.l4t else ""))
    for t in m.inputs:
        out.write("input  %-20s %-8s %s\n" % (t.name, t.dtype, _dims(t.shape)))
    for t in m.outputs:
        out.write("output %-20s %-8s %s\n" % (t.name, t.dtype, _dims(t.shape)))
    if m.warmup is not None:
        out.write("warm-up %s%s\n" % (", ".join("%s:%s" % (k, spell(v)) for k, v in m.warmup.shapes.items()),
                                       " from %s" % m.warmup.sample if m.warmup.sample else ""))
    for f in m.files:
        out.write("file   %-20s %10d B  %s  %s\n" % (f.path, f.size, f.sha256[:16], f.role))
    out.write("files: %s\n" % ("all match their sha256" if info.verified else "; ".join(info.problems)))
    return ExitCode.OK if info.verified else ExitCode.ERROR


def _dims(shape: list[Any]) -> str:
    """A shape for people: sizes, names, ``?``; a computed expression is cut short (it is dynamic)."""
    return "[%s]" % ", ".join("?" if d is None or d in (-1, "") else (
        str(d) if len(str(d)) <= 24 else str(d)[:21] + "...") for d in shape)


def _keys(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    store = KeyStore(env.config_dir / "keys")
    try:
        if args.keys_command == "new":
            info = store.new(args.name)
            env.stdout.write("made key %s (id %s): private key %s (keep it secret)\npublic key: %s\n" % (
                info.name, info.key_id, info.private_path, info.public_line))
        elif args.keys_command == "list":
            for key in store.list():
                env.stdout.write("%-16s %s %s\n" % (key.name, key.key_id, "" if key.private_path else "(public only)"))
        elif args.keys_command == "export":
            env.stdout.write(store.export(args.name) + "\n")
        else:
            text = args.public_key
            if Path(text).is_file():
                text = Path(text).read_text()
            session = core.session(args.device)
            session.connect()
            trusted = session.call(STORE_KEYS_TRUST, StoreKey(text.strip(), env.operator))
            env.stdout.write("%s now trusts key %s %s\n" % (args.device, trusted.key_id, trusted.comment))
    except DeviceError as exc:
        if exc.code not in REFUSALS:
            raise
        env.stderr.write("edgectl: %s refused: %s\n" % (args.device, exc))
        return ExitCode.ERROR
    except KeyError_ as exc:
        env.stderr.write("edgectl: %s\n" % exc)
        return ExitCode.ERROR
    return ExitCode.OK
