"""``edge-runtime``: the device-side command (serve, bridge, stop, doctor, demo-model)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from typing import IO, List, Mapping, Optional, Tuple

from device_runtime import __version__, paths


class RuntimeEnv:
    """All process I/O in one place, so tests pass temp dirs and capture output."""

    def __init__(
        self,
        environ: Optional[Mapping[str, str]] = None,
        uid: Optional[int] = None,
        stdout: Optional[IO[str]] = None,
        stderr: Optional[IO[str]] = None,
    ) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.uid = os.getuid() if uid is None else uid
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge-runtime", description="Edge Operator Console device runtime")
    parser.add_argument("--version", action="version", version="edge-runtime %s" % __version__)
    sub = parser.add_subparsers(dest="command")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--socket", help="unix socket path (default: system daemon's, else this user's)")
        p.add_argument("--root", help="state directory (default: /var/lib/edge-runtime or ~/.local/share)")

    serve = sub.add_parser("serve", help="run the daemon")
    common(serve)
    serve.add_argument("--demo", action="store_true", help="provide the demo model (built-in local device)")
    serve.add_argument("--rate", type=float, default=2.0, help="base sampling rate in Hz (1-20)")
    serve.add_argument("--ready-fd", type=int, help=argparse.SUPPRESS)
    serve.add_argument("--prometheus", metavar="ADDR",
                       help="also serve Prometheus text metrics on 127.0.0.1:PORT or unix:PATH (off by default)")
    _roots(serve)

    bridge = sub.add_parser("bridge", help="relay stdin/stdout to the daemon, starting one if needed")
    common(bridge)
    bridge.add_argument("--demo", action="store_true", help="start the daemon with the demo model")
    bridge.add_argument("--no-start", action="store_true", help="fail instead of starting a daemon")

    stop = sub.add_parser("stop", help="stop the daemon serving a socket")
    common(stop)

    doctor = sub.add_parser("doctor", help="check this device and its install, and say what to fix")
    common(doctor)
    doctor.add_argument("--json", action="store_true")
    doctor.add_argument("--dev-root", default="/dev", help=argparse.SUPPRESS)
    doctor.add_argument("--run-root", default="/run", help=argparse.SUPPRESS)
    _roots(doctor)

    tegrastats = sub.add_parser("parse-tegrastats", help="print what each line of a tegrastats log says")
    tegrastats.add_argument("file", help="a file of tegrastats output lines")
    tegrastats.add_argument("--json", action="store_true", help="one JSON object per line, in a list")

    demo = sub.add_parser("demo-model", help="write the demo ONNX model")
    demo.add_argument("-o", "--output", required=True)

    parse = sub.add_parser("parse-trtexec", help="summarise a trtexec log or --exportTimes JSON")
    parse.add_argument("file", help="trtexec output (any TensorRT generation) or an --exportTimes trace")
    parse.add_argument("--json", action="store_true", help="print the parsed report as JSON")
    return parser


def _roots(p: argparse.ArgumentParser) -> None:
    """Hidden: read the hardware from another tree (tests run the daemon on fixture boards)."""
    for name, default in (("sys", "/sys"), ("proc", "/proc"), ("etc", "/etc"), ("var", "/var")):
        p.add_argument("--%s-root" % name, default=default, help=argparse.SUPPRESS)


def _socket_and_root(args: argparse.Namespace, env: RuntimeEnv) -> Tuple[str, str]:
    socket_path = args.socket or paths.default_socket(env.environ, env.uid)
    root = args.root or paths.default_root(socket_path, env.environ)
    return socket_path, root


def main(argv: Optional[List[str]] = None, env: Optional[RuntimeEnv] = None) -> int:
    env = env or RuntimeEnv()
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help(env.stdout)
        return 2
    handler = {
        "serve": _serve,
        "bridge": _bridge,
        "stop": _stop,
        "doctor": _doctor,
        "parse-tegrastats": _parse_tegrastats,
        "demo-model": _demo_model,
        "parse-trtexec": _parse_trtexec,
    }[args.command]
    return handler(args, env)


def _serve(args: argparse.Namespace, env: RuntimeEnv) -> int:
    from device_runtime.server.bridge import READY_LINE
    from device_runtime.server.daemon import AlreadyRunning, Daemon

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=env.stderr)
    socket_path, root = _socket_and_root(args, env)
    # Recent ONNX Runtime releases run a telemetry uploader in every process that loads them: a
    # thread that wakes every few seconds (about 40 us of CPU a second, 1 % of the probe at 10 Hz),
    # keeps a device id on disk and tries to reach the network. The probe, job workers and store
    # children all inherit this environment, so they opt out here, unless the operator chose.
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

    def ready() -> None:
        if args.ready_fd is not None:
            os.write(args.ready_fd, READY_LINE)
            os.close(args.ready_fd)
        else:
            env.stderr.write("edge-runtime %s serving %s\n" % (__version__, socket_path))
            env.stderr.flush()

    if args.prometheus:
        from device_runtime.prometheus import parse_address

        try:
            parse_address(args.prometheus)
        except ValueError as exc:
            env.stderr.write("edge-runtime: %s\n" % exc)
            return 2
    try:
        daemon = Daemon(socket_path, root, demo=args.demo, base_rate_hz=args.rate, sys_root=args.sys_root,
                        proc_root=args.proc_root, etc_root=args.etc_root, var_root=args.var_root,
                        prometheus=args.prometheus)
        daemon.run(ready)
    except AlreadyRunning as exc:
        env.stderr.write("edge-runtime: %s\n" % exc)
        return 3
    except paths.UnsafePath as exc:
        env.stderr.write("edge-runtime: refusing to serve %s: %s\n" % (socket_path, exc))
        return 4
    except PermissionError as exc:
        env.stderr.write("edge-runtime: cannot create %s: %s. Run as the edge-runtime user or pass "
                         "--socket in a directory you own.\n" % (socket_path, exc.strerror))
        return 4
    return 0


def _bridge(args: argparse.Namespace, env: RuntimeEnv) -> int:
    from device_runtime.server.bridge import BridgeError, open_daemon, relay

    socket_path, root = _socket_and_root(args, env)
    try:
        sock = open_daemon(socket_path, root, autostart=not args.no_start,
                           extra=["--demo"] if args.demo else [])
    except BridgeError as exc:
        env.stderr.write("edge-runtime bridge: %s\n" % exc)
        env.stderr.flush()
        return 5
    return relay(sock, sys.stdin.fileno(), sys.stdout.fileno())


def _stop(args: argparse.Namespace, env: RuntimeEnv) -> int:
    """Stop the daemon serving the socket. The pid in ``<socket>.lock`` counts only while a daemon
    holds that lock: a daemon that ended leaves its pid there, and that pid may be gone or reused."""
    import fcntl

    socket_path, _ = _socket_and_root(args, env)
    try:
        handle = open(paths.lock_path(socket_path))  # noqa: SIM115 - closed on every path below
    except OSError:
        handle = None
    if handle is None or _wait_for_lock(handle.fileno(), 0.0):
        if handle is not None:
            handle.close()  # free again at once: a daemon starting now takes it
        env.stderr.write("edge-runtime: no daemon is serving %s\n" % socket_path)
        return 1
    with handle:
        pid = _pid_of_holder(socket_path)
        if pid is None:
            env.stderr.write("edge-runtime: a daemon is starting on %s and has not written its pid yet: "
                             "try again in a moment\n" % socket_path)
            return 1
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass  # it ended between the two looks: its lock is free, or about to be
        # Wait for the daemon to release its lock (the moment it has finished), for a while.
        if not _wait_for_lock(handle.fileno(), STOP_TIMEOUT_S):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            env.stderr.write("edge-runtime: daemon pid %d did not stop within %.0f s and was killed\n"
                             % (pid, STOP_TIMEOUT_S))
            return 1
    env.stdout.write("stopped edge-runtime daemon (pid %d)\n" % pid)
    return 0


def _pid_of_holder(socket_path: str, timeout_s: float = 2.0) -> Optional[int]:
    """The pid the lock's holder wrote (a daemon writes it just after taking the lock)."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        pid = paths.read_pid(socket_path)
        if pid is not None or time.monotonic() > deadline:
            return pid
        time.sleep(0.02)


STOP_TIMEOUT_S = 15.0


def _wait_for_lock(fd: int, timeout_s: float) -> bool:
    import fcntl
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)


def _doctor(args: argparse.Namespace, env: RuntimeEnv) -> int:
    """Exit 1 when a collector has problems (a file that exists but cannot be read, a declared
    metric that cannot be read now) or an install check fails (permissions, disk, service, SSH
    hardening); what the board simply lacks is listed, not a problem."""
    from device_runtime import install_checks
    from device_runtime.capabilities import probe, summary
    from device_runtime.collectors import default_collectors
    from device_runtime.collectors.identity_facts import identity_facts, one_line
    from device_runtime.collectors.nvml import NvmlCollector
    from device_runtime.collectors.report import check_collectors, format_text

    collectors = default_collectors(sys_root=args.sys_root, proc_root=args.proc_root, etc_root=args.etc_root,
                                    var_root=args.var_root)
    try:
        reports = check_collectors(collectors)
        gpus = sum(len(c.gpus) for c in collectors if isinstance(c, NvmlCollector))
    finally:
        for c in collectors:
            c.close()
    socket_path, root = _socket_and_root(args, env)
    checks = install_checks.run_checks(root, socket_path, etc_root=args.etc_root, dev_root=args.dev_root,
                                       gpu_count=gpus, run_root=args.run_root)
    device = summary(probe(proc_root=args.proc_root, etc_root=args.etc_root, var_root=args.var_root))
    facts = identity_facts(args.proc_root, args.etc_root, os.path.join(args.var_root, "lib", "dpkg", "status"))
    problems = sum(len(r.problems) for r in reports) + sum(1 for c in checks if c.status == install_checks.FAIL)
    if args.json:
        report = {"runtime": __version__, "device": device, "problems": problems,
                  "identity": [f._asdict() for f in facts], "identity_line": one_line(facts),
                  "collectors": {r.name: r.to_json() for r in reports},
                  "install": [c.to_dict() for c in checks]}
        env.stdout.write(json.dumps(report, indent=2) + "\n")
        return 1 if problems else 0
    env.stdout.write("edge-runtime %s\n" % __version__)
    for key, value in device.items():
        env.stdout.write("  %-12s %s\n" % (key, value))
    env.stdout.write("identity (each fact and where it came from):\n")
    for fact in facts:
        env.stdout.write("  %-12s %s  [from %s]\n" % (fact.name, fact.value, fact.source))
        if fact.note:
            env.stdout.write("  %-12s note: %s\n" % ("", fact.note))
    env.stdout.write("  one line: %s\n" % one_line(facts))
    env.stdout.write("\n".join(line for line in format_text(reports) if line != "no problems found") + "\n")
    env.stdout.write("install:\n")
    for check in checks:
        env.stdout.write("  %-4s %-13s %s\n" % (check.status, check.name, check.message))
        if check.fix and check.status != install_checks.OK:
            env.stdout.write("       %-13s fix: %s\n" % ("", check.fix))
    env.stdout.write("%d problem(s) to fix\n" % problems if problems else "no problems found\n")
    return 1 if problems else 0


def _parse_tegrastats(args: argparse.Namespace, env: RuntimeEnv) -> int:
    """Exit 1 when a line could not be read as tegrastats output; every other line is printed."""
    from device_runtime.tegrastats import format_sample, parse_text, sample_dict

    try:
        with open(args.file, encoding="utf-8", errors="replace") as handle:
            lines = parse_text(handle.read())
    except OSError as exc:
        env.stderr.write("edge-runtime parse-tegrastats: cannot read %s: %s\n" % (args.file, exc.strerror or exc))
        return 2
    bad = [p for p in lines if p.error]
    if args.json:
        out = [{"line": p.number, "error": p.error} if p.error or p.sample is None
               else {"line": p.number, "sample": sample_dict(p.sample)} for p in lines]
        env.stdout.write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    else:
        for parsed in lines:
            if parsed.sample is not None:
                env.stdout.write("line %d:\n%s\n" % (parsed.number, "\n".join(format_sample(parsed.sample))))
    for parsed in bad:
        env.stderr.write("%s: line %d: %s\n" % (args.file, parsed.number, parsed.error))
    if not lines:
        env.stderr.write("%s: no tegrastats lines found\n" % args.file)
        return 1
    return 1 if bad else 0


def _parse_trtexec(args: argparse.Namespace, env: RuntimeEnv) -> int:
    from device_runtime.engines.trtexec_report import NotTrtexecOutput, format_text, read_report

    try:
        with open(args.file, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        report = read_report(text, args.file)
    except OSError as exc:
        env.stderr.write("edge-runtime: cannot read %s: %s\n" % (args.file, exc.strerror or exc))
        return 1
    except NotTrtexecOutput as exc:
        env.stderr.write("edge-runtime: %s\n" % exc)
        return 1
    env.stdout.write(report.to_json() + "\n" if args.json else format_text(report))
    return 0


def _demo_model(args: argparse.Namespace, env: RuntimeEnv) -> int:
    from device_runtime.demo_model import write_demo_model

    path = write_demo_model(args.output)
    env.stdout.write("%s\n" % path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
