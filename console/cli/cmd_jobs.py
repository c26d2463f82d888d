"""``edgectl validate | quantize | build | bench | accuracy`` and ``jobs`` / ``job show|logs|cancel|wait``.

Each job command builds its kind's typed spec, submits it to the device and follows it with a
progress display (see :mod:`console.cli.job_follow`). Files named on the command line are the
user's; :func:`~console.core.jobs.specs.device_path` turns them into paths on the device.
"""

from __future__ import annotations

import argparse
import json
import queue
from collections.abc import Callable
from typing import Any

from console.cli.job_follow import device_refusal, follow, reattach_hint, report
from console.cli.registry import Commands
from console.core.app import ConsoleCore
from console.core.devices.client import ConnectionLost, DeviceError
from console.core.devices.session import DeviceSession
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from console.core.jobs.report import job_details, jobs_table, result_text
from console.core.jobs.specs import (
    SpecError,
    device_path,
    parse_concurrency,
    parse_preprocess,
    parse_profiles,
    parse_shapes,
)
from console.core.jobs.tracker import JobTracker, is_final, job_title, typed_result
from console.core.settings import DeviceEntry
from device_runtime.protocol import (
    AccuracySpec,
    BenchmarkSpec,
    BuildSpec,
    JobInfo,
    ProtocolError,
    QuantizeSpec,
    Record,
    ValidateSpec,
)

ENGINE_SUFFIXES = (".engine", ".plan", ".trt")
SpecBuilder = Callable[[DeviceEntry, argparse.Namespace], Record]


def _common(parser: argparse.ArgumentParser, json_help: str = "print the typed result as JSON") -> None:
    parser.add_argument("--label", default="", help="a name for the job (shown in the Jobs page)")
    parser.add_argument("--json", action="store_true", help=json_help)
    parser.add_argument("--detach", action="store_true", help="submit, print the job id and return")


def register(sub: Any, commands: Commands) -> None:
    p = sub.add_parser("validate", help="check an ONNX model: checker, shapes, opset, operators, backends")
    p.add_argument("model")
    _common(p)
    commands["validate"] = _job_command("validate", _validate_spec)

    p = sub.add_parser("quantize", help="convert a model to FP16 or INT8 (QDQ)")
    p.add_argument("model")
    kind = p.add_mutually_exclusive_group(required=True)
    kind.add_argument("--fp16", dest="precision", action="store_const", const="fp16")
    kind.add_argument("--int8", dest="precision", action="store_const", const="int8")
    p.add_argument("--calib", help="calibration data: .npy / .npz file or a folder of them or of images")
    p.add_argument("--per-channel", dest="per_channel", action="store_true", default=True)
    p.add_argument("--per-tensor", dest="per_channel", action="store_false")
    p.add_argument("--method", choices=["minmax", "entropy", "percentile"], default="minmax")
    p.add_argument("--quantizer", choices=["auto", "modelopt", "ort"], default="auto",
                   help="INT8 quantizer: NVIDIA ModelOpt, ONNX Runtime, or auto (ModelOpt when the device has it)")
    p.add_argument("--keep-fp32", nargs="+", default=[], metavar="NAME", help="inputs/outputs kept in FP32")
    p.add_argument("--max-samples", type=int, default=256, help="calibration samples to use at most")
    images = p.add_argument_group("calibration images", "how images become inputs (recorded in the output)")
    images.add_argument("--size", metavar="HxW", help="resize to this height and width (needed for dynamic H/W)")
    images.add_argument("--layout", choices=["NCHW", "NHWC"], type=str.upper, help="default: from the input")
    images.add_argument("--channels", choices=["RGB", "BGR"], type=str.upper, help="channel order (default RGB)")
    images.add_argument("--scale", help="multiply pixels by this first (default 1/255; 1 keeps 0-255)")
    images.add_argument("--mean", help="subtract after scaling: one value or R,G,B")
    images.add_argument("--std", help="divide by after the mean: one value or R,G,B")
    p.add_argument("--fp16-io", action="store_true", help="FP16 inputs and outputs too (default: they stay FP32)")
    p.add_argument("--block-op", action="append", default=[], metavar="OP",
                   help="operator type kept in FP32 by --fp16 (besides shape arithmetic and the defaults)")
    p.add_argument("-o", "--output", required=True, help="where to write the quantized ONNX")
    _common(p)
    commands["quantize"] = _job_command("quantize", _quantize_spec)

    p = sub.add_parser("build", help="build a TensorRT engine")
    p.add_argument("model")
    p.add_argument("--precision", nargs="+", choices=["fp16", "int8", "best"], default=[])
    p.add_argument("--shape", action="append", metavar="NAME:MIN,OPT,MAX",
                   help="optimisation profile of a dynamic input, e.g. image:1x3x64x64,4x3x64x64,8x3x64x64")
    p.add_argument("--workspace", type=int, metavar="MB")
    p.add_argument("--opt-level", type=int, choices=range(6), metavar="N", help="builder optimisation level 0-5")
    p.add_argument("--dla", type=int, metavar="N", help="DLA core (GPU fallback on)")
    p.add_argument("--version-compatible", action="store_true")
    p.add_argument("--calib", help="calibration data for implicit INT8 (TensorRT 10.x and older)")
    p.add_argument("--trtexec", action="store_true", help="build with trtexec instead of the Python API")
    p.add_argument("-o", "--output", required=True, help="where to write the engine")
    _common(p)
    commands["build"] = _job_command("build", _build_spec)

    p = sub.add_parser("bench", help="measure latency and throughput")
    p.add_argument("model", help="ONNX model or TensorRT engine")
    p.add_argument("--backend", choices=["ort", "trt"], help="default: trt for engines, else ort")
    p.add_argument("--provider", help="ONNX Runtime execution provider, e.g. CUDAExecutionProvider")
    p.add_argument("--shape", action="append", metavar="NAME:DIMS", help="input shape, e.g. image:1x3x320x320")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--warmup", type=float, default=1.0, metavar="S")
    p.add_argument("--iterations", type=int, default=0, help="minimum iterations on top of --seconds")
    p.add_argument("--concurrency", metavar="N,N,...", help="streams for a sweep, e.g. 1,2,4")
    p.add_argument("--threads", type=int)
    p.add_argument("--data", help="input as .npy / .npz (its first sample; default: generated inputs)")
    _common(p)
    commands["bench"] = _job_command("benchmark", _bench_spec)

    p = sub.add_parser("accuracy", help="compare a candidate's outputs with an FP32 reference")
    p.add_argument("candidate")
    p.add_argument("--reference", required=True)
    p.add_argument("--shape", action="append", metavar="NAME:DIMS")
    p.add_argument("--data", help="inputs as .npy / .npz (default: random within declared ranges)")
    p.add_argument("--samples", type=int, default=16)
    p.add_argument("--atol", type=float)
    p.add_argument("--rtol", type=float)
    _common(p)
    commands["accuracy"] = _job_command("accuracy", _accuracy_spec)

    p = sub.add_parser("jobs", help="list the device's jobs")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=200)
    commands["jobs"] = _jobs

    p = sub.add_parser("job", help="one job: show, logs, cancel, wait")
    actions = p.add_subparsers(dest="action", required=True)
    show = actions.add_parser("show", help="state, spec and result")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    logs = actions.add_parser("logs", help="print the job's log")
    logs.add_argument("id")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing until the job is over")
    cancel = actions.add_parser("cancel", help="cancel a queued or running job")
    cancel.add_argument("id")
    wait = actions.add_parser("wait", help="follow a job with a progress bar and print its result")
    wait.add_argument("id")
    wait.add_argument("--json", action="store_true")
    commands["job"] = _job


# -- specs -------------------------------------------------------------------------------------

def _path(entry: DeviceEntry, args: argparse.Namespace, path: str, must_exist: bool = True) -> str:
    """A file named on this computer, as the device sees it (sent there first on an SSH device)."""
    return device_path(entry, path, must_exist, getattr(args, "session", None))


def _validate_spec(entry: DeviceEntry, args: argparse.Namespace) -> Record:
    return ValidateSpec(_path(entry, args, args.model))


def _quantize_spec(entry: DeviceEntry, args: argparse.Namespace) -> Record:
    if args.precision == "int8" and not args.calib:
        raise SpecError("--int8 needs calibration data: --calib FILE.npz, or a folder of .npy files or images")
    if args.max_samples < 1:
        raise SpecError("--max-samples must be at least 1")
    return QuantizeSpec(_path(entry, args, args.model), _path(entry, args, args.output, must_exist=False),
                        args.precision, _path(entry, args, args.calib) if args.calib else None,
                        preprocess=parse_preprocess(args.size, args.layout, args.channels, args.scale, args.mean,
                                                    args.std),
                        keep_fp32=list(args.keep_fp32), per_channel=args.per_channel,
                        calibrate_method=args.method, max_samples=args.max_samples, fp16_io=args.fp16_io,
                        block_ops=list(args.block_op), quantizer=args.quantizer)


def _build_spec(entry: DeviceEntry, args: argparse.Namespace) -> Record:
    if args.workspace is not None and args.workspace <= 0:
        raise SpecError("--workspace is in MB and must be positive")
    if args.dla is not None and args.dla < 0:
        raise SpecError("--dla names a DLA core: 0 or 1")
    return BuildSpec(_path(entry, args, args.model), _path(entry, args, args.output, must_exist=False),
                     precision=list(dict.fromkeys(args.precision)), shapes=parse_profiles(args.shape),
                     workspace_mb=args.workspace, opt_level=args.opt_level, dla_core=args.dla,
                     version_compatible=args.version_compatible, route="trtexec" if args.trtexec else "api",
                     calibration=_path(entry, args, args.calib) if args.calib else None)


def _bench_spec(entry: DeviceEntry, args: argparse.Namespace) -> Record:
    if args.seconds <= 0 or args.warmup < 0:
        raise SpecError("--seconds must be positive and --warmup zero or more")
    backend = args.backend or ("trt" if args.model.lower().endswith(ENGINE_SUFFIXES) else "ort")
    if args.provider and backend != "ort":
        raise SpecError("--provider picks an ONNX Runtime execution provider; it needs --backend ort")
    return BenchmarkSpec(_path(entry, args, args.model), backend, args.provider, parse_shapes(args.shape),
                         warmup_s=args.warmup, seconds=args.seconds, iterations=max(0, args.iterations),
                         concurrency=parse_concurrency(args.concurrency), threads=args.threads, label=args.label,
                         data=_path(entry, args, args.data) if args.data else None)


def _accuracy_spec(entry: DeviceEntry, args: argparse.Namespace) -> Record:
    if args.samples < 1:
        raise SpecError("--samples must be at least 1")
    for name in ("atol", "rtol"):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise SpecError("--%s must be zero or more" % name)
    return AccuracySpec(_path(entry, args, args.candidate), _path(entry, args, args.reference),
                        parse_shapes(args.shape), _path(entry, args, args.data) if args.data else None,
                        samples=args.samples, atol=args.atol, rtol=args.rtol)


# -- handlers ----------------------------------------------------------------------------------

def _tracker(core: ConsoleCore, device: str) -> tuple[DeviceSession, JobTracker]:
    session = core.session(device)
    session.connect()
    tracker = JobTracker(session)
    tracker.start()
    return session, tracker


def _refused(exc: DeviceError, session: DeviceSession, what: str, env: ConsoleEnv) -> int:
    if isinstance(exc, ConnectionLost) or exc.code == "timeout":
        raise exc
    code, sentence = device_refusal(exc, session.name, session.runtime_version, what)
    env.stderr.write("edgectl: %s\n" % sentence)
    return code


def _job_command(kind: str, build: SpecBuilder) -> Callable[[ConsoleCore, argparse.Namespace, ConsoleEnv], int]:
    def handler(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
        session = core.session(args.device)
        if session.entry.kind != "local":
            session.connect()  # input files are sent to the device before the job is described
            args.session = session
        try:
            spec = build(session.entry, args)
        except SpecError as exc:
            env.stderr.write("edgectl %s: %s\n" % (args.command, exc))
            return ExitCode.USAGE
        session, tracker = _tracker(core, args.device)
        try:
            try:
                info = tracker.submit(kind, spec, args.label)
            except DeviceError as exc:
                return _refused(exc, session, "refused the %s job" % kind, env)
            if args.detach:
                env.stdout.write(info.id + "\n")
                env.stderr.write("edgectl: submitted %s; follow it with: %s\n"
                                 % (job_title(info), reattach_hint(args.device, info.id)))
                return ExitCode.OK
            final = follow(tracker, info, env, args.device)
            return ExitCode.DETACHED if final is None else report(final, args.json, env)
        finally:
            tracker.close()

    return handler


def _jobs(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    session, tracker = _tracker(core, args.device)
    try:
        try:
            jobs = tracker.refresh(limit=max(1, args.limit))
        except DeviceError as exc:
            return _refused(exc, session, "could not list jobs", env)
        if args.json:
            env.stdout.write(json.dumps([j.to_wire() for j in jobs], ensure_ascii=False) + "\n")
        else:
            env.stdout.write(jobs_table(jobs, env.clock()) + "\n")
        return ExitCode.OK
    finally:
        tracker.close()


def _job(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    session, tracker = _tracker(core, args.device)
    try:
        try:
            info = tracker.get(args.id)
        except DeviceError as exc:
            return _refused(exc, session, "has no job %r" % args.id, env)
        if args.action == "show":
            return _show(info, args, env)
        if args.action == "logs":
            return _logs(tracker, info.id, args.follow, env)
        if args.action == "cancel":
            if is_final(info):
                env.stdout.write("%s is already %s\n" % (job_title(info), info.state))
                return ExitCode.OK
            try:
                info = tracker.cancel(info.id)
            except DeviceError as exc:
                return _refused(exc, session, "could not cancel %s" % job_title(info), env)
            env.stdout.write("cancel requested for %s (now %s)\n" % (job_title(info), info.state))
            return ExitCode.OK
        final = info if is_final(info) else follow(tracker, info, env, args.device)
        return ExitCode.DETACHED if final is None else report(final, args.json, env)
    finally:
        tracker.close()


def _show(info: JobInfo, args: argparse.Namespace, env: ConsoleEnv) -> int:
    if args.json:
        env.stdout.write(json.dumps(info.to_wire(), ensure_ascii=False) + "\n")
        return ExitCode.OK
    env.stdout.write(job_details(info) + "\n")
    try:
        record = typed_result(info)
    except ProtocolError as exc:
        env.stderr.write("edgectl: the result of %s is malformed: %s\n" % (job_title(info), exc.message))
        return ExitCode.ERROR
    if record is not None:
        env.stdout.write("\n" + result_text(record) + "\n")
    return ExitCode.OK


def _logs(tracker: JobTracker, job_id: str, follow_on: bool, env: ConsoleEnv) -> int:
    lines: queue.Queue[list[str]] = queue.Queue()
    if follow_on:
        tracker.log_listeners.append(lambda jid, _offset, new: lines.put(new) if jid == job_id else None)
    buf = tracker.fetch_logs(job_id, offset=0)
    printed = buf.end
    for line in buf.lines:
        env.stdout.write(line + "\n")
    env.stdout.flush()
    if not follow_on:
        return ExitCode.OK
    try:
        while True:
            info = tracker.job(job_id)
            held = tracker.log(job_id)
            if held.end > printed:
                for line in held.lines[max(0, printed - held.base):]:
                    env.stdout.write(line + "\n")
                env.stdout.flush()
                printed = held.end
            if held.done or (info is not None and is_final(info) and tracker.fetch_logs(job_id).end <= printed):
                return ExitCode.OK
            try:
                lines.get(timeout=1.0)
            except queue.Empty:
                if tracker.session.state.value != "connected":
                    raise ConnectionLost(tracker.session.message) from None
    except KeyboardInterrupt:
        return ExitCode.OK
