"""``edgectl alerts`` and ``edgectl thresholds``: a device's alerts and its alert thresholds."""

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
from console.core.telemetry.alerts import AlertFeed, AlertsUnavailable, kind_label, severity_label
from console.core.telemetry.thresholds import FIELDS, ThresholdError, apply_assignments, get_thresholds, set_thresholds
from console.core.text_units import duration
from device_runtime.protocol import AlertEvent, AlertThresholds


def register(sub: Any, commands: Commands) -> None:
    alerts = sub.add_parser("alerts", help="alerts of a device: throttling, power cap, clocks, temperature")
    alerts.add_argument("--json", action="store_true", help="one JSON object per alert and line")
    alerts.add_argument("--follow", "-f", action="store_true",
                        help="keep printing alerts as they start and end (Ctrl+C stops)")
    alerts.add_argument("--since", type=float, default=None, metavar="SECONDS",
                        help="only alerts active within this many seconds (default: all the device keeps)")
    alerts.add_argument("--seconds", type=float, default=None, help="with --follow: stop after this long")
    commands["alerts"] = _alerts
    thresholds = sub.add_parser("thresholds", help="show or change a device's alert thresholds")
    thresholds.add_argument("--json", action="store_true")
    thresholds.add_argument("--set", nargs="+", metavar="KEY=VALUE", default=None,
                            help="change thresholds, e.g. temperature_warning_c=80 zone.GPU=75 "
                                 "(an empty zone value removes that zone's limit)")
    thresholds.add_argument("--reset", action="store_true",
                            help="write the default thresholds (also replaces a stored file the device set aside)")
    commands["thresholds"] = _thresholds


def alert_line(alert: AlertEvent, now: float) -> str:
    """``CRITICAL  Temperature  GPU  14:03:07  ongoing (2 min 05 s)  GPU at 97 °C``."""
    start = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(alert.start))
    if alert.end is None:
        state = "ongoing (%s)" % duration(now - alert.start)
    else:
        state = "ended %s (%s)" % (time.strftime("%H:%M:%S", time.localtime(alert.end)),
                                   duration(alert.end - alert.start))
    return "%-8s  %-18s  %-12s  %s  %-26s  %s" % (severity_label(alert.severity).upper(), kind_label(alert.kind),
                                                 alert.source, start, state, alert.message)


def _alerts(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    if args.seconds is not None and not args.follow:
        env.stderr.write("edgectl: --seconds only applies with --follow\n")
        return ExitCode.USAGE
    session = core.session(args.device)
    session.connect()
    feed = AlertFeed(session)
    updates: queue.Queue[AlertEvent] = queue.Queue()
    since = 0.0 if args.since is None else env.clock() - args.since
    try:
        feed.start(since)
    except AlertsUnavailable as exc:
        env.stderr.write("edgectl: %s\n" % exc)
        return ExitCode.ERROR
    out = env.stdout
    for alert in feed.log.alerts():
        _print(out, alert, args.json, env.clock())
    if not args.follow:
        if not args.json and not len(feed.log):
            out.write("no alerts on %s\n" % args.device)
        return ExitCode.OK
    out.flush()
    feed.listeners.append(updates.put)

    def show(alert: AlertEvent) -> None:
        _print(out, alert, args.json, env.clock())
        out.flush()

    return follow_queue(env, session, updates, args.seconds, show)


def _print(out: Any, alert: AlertEvent, as_json: bool, now: float) -> None:
    if as_json:
        out.write(json.dumps(alert.to_wire(), ensure_ascii=False) + "\n")
    else:
        out.write(alert_line(alert, now) + "\n")


def _thresholds(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    session = core.session(args.device)
    session.connect()
    current = get_thresholds(session)
    if args.set and args.reset:
        env.stderr.write("edgectl: give --reset or --set, not both. Nothing was changed.\n")
        return ExitCode.USAGE
    if args.set or args.reset:
        try:
            wanted = AlertThresholds() if args.reset else apply_assignments(current, args.set)
        except ThresholdError as exc:
            env.stderr.write("edgectl: %s Nothing was changed.\n" % exc)
            return ExitCode.USAGE
        try:
            current = set_thresholds(session, wanted)
        except ConnectionLost:
            raise
        except DeviceError as exc:  # the device refused them: say its words, not "cannot reach"
            env.stderr.write("edgectl: %s\n" % exc)
            return ExitCode.ERROR
    if args.json:
        env.stdout.write(json.dumps(current.to_wire(), ensure_ascii=False) + "\n")
    else:
        _print_thresholds(env, current)
    return ExitCode.OK


def _print_thresholds(env: ConsoleEnv, th: AlertThresholds) -> None:
    out = env.stdout
    for f in FIELDS:
        out.write("%-24s %-8s %s\n" % (f.key, "%g %s" % (getattr(th, f.key), f.unit), f.help))
    if th.zone_limits_c:
        for zone, limit in sorted(th.zone_limits_c.items()):
            out.write("%-24s %-8s %s\n" % ("zone.%s" % zone, "%g °C" % limit, "warning limit of this zone"))
    else:
        out.write("%-24s %s\n" % ("zone.*", "none: every zone uses temperature_warning_c"))
