"""``edgectl status`` and ``watch``."""

from __future__ import annotations

import argparse
import json
import queue
from typing import Any

from console.cli.follow import follow_queue
from console.cli.registry import Commands
from console.core.app import ConsoleCore
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from device_runtime.protocol import MAX_RATE_HZ, MIN_RATE_HZ, PROTOCOL_VERSION, MetricSpec


def register(sub: Any, commands: Commands) -> None:
    status = sub.add_parser("status", help="handshake: protocol, runtime version, capabilities")
    status.add_argument("--json", action="store_true")
    commands["status"] = _status
    watch = sub.add_parser("watch", help="stream telemetry samples")
    watch.add_argument("--rate", type=float, default=2.0, help="samples per second (1-20)")
    watch.add_argument("--seconds", type=float, default=None, help="stop after this long")
    watch.add_argument("--json", action="store_true", help="one JSON object per line")
    commands["watch"] = _watch


def _status(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    session = core.session(args.device)
    caps = session.connect()
    report: dict[str, Any] = {
        "device": args.device,
        "protocol": PROTOCOL_VERSION,
        "runtime_version": session.runtime_version,
        "capabilities": caps.to_wire(),
    }
    if args.json:
        env.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
        return ExitCode.OK
    out = env.stdout
    out.write("device            %s (%s)\n" % (args.device, session.transport.describe()))
    out.write("protocol          %d\n" % PROTOCOL_VERSION)
    out.write("runtime           %s\n" % session.runtime_version)
    rows = [
        ("host", caps.hostname), ("model", caps.board_model), ("os", caps.os), ("arch", caps.arch),
        ("python", caps.python), ("cpus", str(caps.cpu_count)), ("memory", "%.0f MB" % caps.memory_total_mb),
        ("l4t", caps.l4t), ("jetpack", caps.jetpack), ("cuda", caps.cuda), ("tensorrt", caps.tensorrt),
        ("onnxruntime", caps.onnxruntime), ("power mode", caps.power_mode),
        ("dla cores", str(caps.dla_cores) if caps.l4t else None),
        ("backends", ", ".join(caps.backends) or "none"), ("demo model", caps.demo_model),
    ]
    for gpu in caps.gpus:
        rows.append(("gpu %d" % gpu.index, "%s, driver %s, %s MB, sm %s" % (
            gpu.name, gpu.driver or "?", "%.0f" % gpu.memory_total_mb if gpu.memory_total_mb else "?",
            gpu.compute_capability or "?")))
    if not caps.gpus:
        rows.append(("gpu", "none found"))
    for key, value in rows:
        if value:
            out.write("%-17s %s\n" % (key, value))
    return ExitCode.OK


def _format(value: float, spec: MetricSpec) -> str:
    if spec.unit == "B/s":
        return "%.2f MB/s" % (value / 1e6)
    return "%.1f %s" % (value, spec.unit)


def _watch(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    if not MIN_RATE_HZ <= args.rate <= MAX_RATE_HZ:
        env.stderr.write("edgectl: --rate must be between %g and %g Hz\n" % (MIN_RATE_HZ, MAX_RATE_HZ))
        return ExitCode.USAGE
    session = core.session(args.device)
    samples: queue.Queue[tuple[float, dict[str, float]]] = queue.Queue()
    session.sample_listeners.append(lambda t, values: samples.put((t, values)))
    session.connect()
    table = session.start_telemetry(args.rate)
    specs = {m.name: m for m in table.metrics}
    out = env.stdout

    def show(item: tuple[float, dict[str, float]]) -> None:
        t, values = item
        if args.json:
            out.write(json.dumps({"t": t, "values": values}) + "\n")
        else:
            parts = ["%s=%s" % (name, _format(v, specs[name])) for name, v in values.items() if name in specs]
            out.write("%.3f  %s\n" % (t, "  ".join(parts)))
        out.flush()

    return follow_queue(env, session, samples, args.seconds, show)
