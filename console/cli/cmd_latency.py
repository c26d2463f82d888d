"""``edgectl latency`` and ``edgectl probe``: a device's inference latency windows, and its latency probe."""

from __future__ import annotations

import argparse
import json
import queue
import time
from typing import Any

from console.cli.follow import follow_queue
from console.cli.registry import Commands
from console.core.app import ConsoleCore
from console.core.devices.client import ConnectionLost, DeviceError
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from console.core.telemetry.latency import (
    LatencyError,
    LatencyFeed,
    format_ms,
    get_probe,
    parse_shapes,
    probe_words,
    set_probe,
)
from device_runtime.protocol import PROBE_FAILED, LatencyWindow, ProbeStatus


def register(sub: Any, commands: Commands) -> None:
    latency = sub.add_parser("latency", help="inference latency per source and stage: p50, p95, p99, max")
    latency.add_argument("--json", action="store_true", help="one JSON object per window and line")
    latency.add_argument("--follow", "-f", action="store_true", help="keep printing every second (Ctrl+C stops)")
    latency.add_argument("--seconds", type=float, default=None, help="with --follow: stop after this long")
    commands["latency"] = _latency
    probe = sub.add_parser("probe", help="show or set the latency probe (the active model run at 1 to 30 Hz)")
    probe.add_argument("--model", default=None, help="a stored model; the probe runs its active version")
    probe.add_argument("--rate", type=float, default=None, metavar="HZ", help="1 to 30 inferences per second")
    probe.add_argument("--off", action="store_true", help="turn the probe off")
    probe.add_argument("--shape", action="append", default=[], metavar="NAME:DxD...",
                       help="a shape for a dynamic input, e.g. image:1x3x224x224 (repeatable)")
    probe.add_argument("--json", action="store_true")
    commands["probe"] = _probe


def window_line(w: LatencyWindow) -> str:
    return "%-28s %-12s %10s %10s %10s %10s %7.1f/s  %s" % (
        w.source, w.stage, format_ms(w.p50_ms), format_ms(w.p95_ms), format_ms(w.p99_ms), format_ms(w.max_ms),
        w.rate_hz, w.version or "-")


HEADER = "%-28s %-12s %10s %10s %10s %10s %9s  %s" % ("SOURCE", "STAGE", "P50", "P95", "P99", "MAX", "RATE", "VERSION")


def _print_windows(env: ConsoleEnv, windows: list[LatencyWindow], as_json: bool) -> None:
    out = env.stdout
    if as_json:
        for w in windows:
            out.write(json.dumps(w.to_wire(), ensure_ascii=False) + "\n")
    else:
        out.write(HEADER + "\n")
        for w in sorted(windows, key=lambda w: (w.source, w.stage)):
            out.write(window_line(w) + "\n")
    out.flush()


def _latency(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    if args.seconds is not None and not args.follow:
        env.stderr.write("edgectl: --seconds only applies with --follow\n")
        return ExitCode.USAGE
    session = core.session(args.device)
    session.connect()
    feed = LatencyFeed(session)
    updates: queue.Queue[list[LatencyWindow]] = queue.Queue()
    feed.window_listeners.append(updates.put)
    feed.start(seconds=15.0)
    store = feed.store
    current = [w for w in (store.latest(s, st) for s in store.sources() for st in store.stages(s)) if w is not None
               and w.t >= env.clock() - 15.0]
    if current:
        _print_windows(env, current, args.json)
    elif not args.json:
        env.stdout.write("no inference latency reported on %s in the last 15 s (%s)\n" % (
            args.device, probe_words(feed.probe)))
    if not args.follow:
        return ExitCode.OK

    def show(windows: list[LatencyWindow]) -> None:
        if not args.json:
            env.stdout.write("\n%s\n" % time.strftime("%H:%M:%S", time.localtime(windows[0].t if windows else 0)))
        _print_windows(env, windows, args.json)

    return follow_queue(env, session, updates, args.seconds, show)


def _probe(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    changing = args.off or args.rate is not None or args.model is not None or args.shape
    if args.off and (args.rate is not None or args.shape):
        env.stderr.write("edgectl: --off cannot be combined with --rate or --shape\n")
        return ExitCode.USAGE
    try:
        shapes = parse_shapes(args.shape)
    except LatencyError as exc:
        env.stderr.write("edgectl: %s\n" % exc)
        return ExitCode.USAGE
    session = core.session(args.device)
    session.connect()
    status = get_probe(session)
    if changing:
        rate = 0.0 if args.off else (args.rate if args.rate is not None else status.rate_hz)
        if not args.off and rate == 0:
            env.stderr.write("edgectl: give --rate HZ (1 to 30) to turn the probe on\n")
            return ExitCode.USAGE
        try:
            status = set_probe(session, args.model or status.model, rate, shapes or status.shapes)
        except ConnectionLost:
            raise
        except DeviceError as exc:  # refused: the device's words, nothing changed
            env.stderr.write("edgectl: %s\n" % exc)
            return ExitCode.ERROR
    _print_probe(env, status, args.json)
    return ExitCode.ERROR if status.state == PROBE_FAILED else ExitCode.OK


def _print_probe(env: ConsoleEnv, status: ProbeStatus, as_json: bool) -> None:
    if as_json:
        env.stdout.write(json.dumps(status.to_wire(), ensure_ascii=False) + "\n")
        return
    env.stdout.write(probe_words(status) + "\n")
    if status.model and status.state != "off":
        env.stdout.write("  source %s, backend %s, inputs %s, %d inferences since loaded\n" % (
            status.source, status.backend or "?", " ".join("%s:%s" % (n, "x".join(map(str, s)))
                                                            for n, s in status.shapes.items()) or "-", status.count))
