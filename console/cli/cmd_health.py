"""``edgectl health``, ``edgectl health-config`` and ``edgectl audit``: a device's health checks,
its health settings, and its audit log of operator actions.

``health`` exits with CHECK_FAILED when a critical check fails, so scripts and CI gates can use it.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from console.cli.registry import Commands
from console.core.app import ConsoleCore
from console.core.devices.audit import DEFAULT_LIMIT, MAX_LIMIT, AuditUnavailable, audit_line, list_audit
from console.core.devices.client import ConnectionLost, DeviceError
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from console.core.health.monitor import (
    CONFIG_FIELDS,
    HealthConfigError,
    HealthMonitor,
    HealthUnavailable,
    apply_assignments,
    critical_failures,
    format_config_value,
    overall_label,
    status_label,
)
from device_runtime.protocol import HEALTH_FAIL, HEALTH_SKIP, HealthConfig, HealthReport


def register(sub: Any, commands: Commands) -> None:
    health = sub.add_parser("health", help="a device's health checks; exits %d when a critical check fails"
                            % ExitCode.CHECK_FAILED)
    health.add_argument("--json", action="store_true", help="the report as one JSON object")
    health.add_argument("--run", action="store_true", help="run the checks now instead of showing the last run")
    commands["health"] = _health
    config = sub.add_parser("health-config", help="show or change what a device's health checks expect")
    config.add_argument("--json", action="store_true")
    config.add_argument("--set", nargs="+", metavar="KEY=VALUE", default=None,
                        help="change settings, e.g. latency_budget_ms=20 restart_service=robot-ai.service "
                             "(an empty value clears an optional setting)")
    config.add_argument("--reset", action="store_true",
                        help="write the default settings (also replaces a stored file the device set aside)")
    commands["health-config"] = _health_config
    audit = sub.add_parser("audit", help="the device's log of operator actions: deploys, rollbacks, settings")
    audit.add_argument("--json", action="store_true", help="one JSON object per entry and line")
    audit.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="newest entries to show (1-%d, default %d)"
                       % (MAX_LIMIT, DEFAULT_LIMIT))
    commands["audit"] = _audit


def report_lines(report: HealthReport, device: str) -> list[str]:
    """``robot-07: UNHEALTHY (checked 14:03:07)`` then one line per check, failing ones with their fix."""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(report.t))
    lines = ["%s: %s (checked %s)" % (device, overall_label(report.overall).upper(), when)]
    for check in report.checks:
        lines.append("%-4s  %-8s  %-34s  %s" % (status_label(check.status), check.severity, check.title,
                                                check.message))
        if check.fix and check.status in (HEALTH_FAIL, HEALTH_SKIP):
            what = "how to fix" if check.status == HEALTH_FAIL else "to turn it on"
            lines.append("%-4s  %-8s  %-34s  %s: %s" % ("", "", "", what, check.fix))
    failing = critical_failures(report)
    if failing:
        lines.append("critical checks failing: %s" % ", ".join(failing))
    return lines


def _health(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    session = core.session(args.device)
    session.connect()
    monitor = HealthMonitor(session)
    try:
        report = monitor.run() if args.run else monitor.fetch_last()
    except HealthUnavailable as exc:
        env.stderr.write("edgectl: %s\n" % exc)
        return ExitCode.ERROR
    if args.json:
        env.stdout.write(json.dumps(report.to_wire(), ensure_ascii=False) + "\n")
    else:
        env.stdout.write("\n".join(report_lines(report, session.entry.display_name)) + "\n")
    return ExitCode.CHECK_FAILED if critical_failures(report) else ExitCode.OK


def _health_config(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    session = core.session(args.device)
    session.connect()
    monitor = HealthMonitor(session)
    try:
        current = monitor.get_config()
    except HealthUnavailable as exc:
        env.stderr.write("edgectl: %s\n" % exc)
        return ExitCode.ERROR
    if args.set and args.reset:
        env.stderr.write("edgectl: give --reset or --set, not both. Nothing was changed.\n")
        return ExitCode.USAGE
    if args.set or args.reset:
        try:
            wanted = HealthConfig() if args.reset else apply_assignments(current, args.set)
        except HealthConfigError as exc:
            env.stderr.write("edgectl: %s Nothing was changed.\n" % exc)
            return ExitCode.USAGE
        try:
            current = monitor.set_config(wanted)
        except ConnectionLost:
            raise
        except DeviceError as exc:  # the device refused them: say its words, not "cannot reach"
            env.stderr.write("edgectl: %s Nothing was changed.\n" % str(exc).rstrip("."))
            return ExitCode.ERROR
    if args.json:
        env.stdout.write(json.dumps(current.to_wire(), ensure_ascii=False) + "\n")
    else:
        _print_config(env, current)
    return ExitCode.OK


def _print_config(env: ConsoleEnv, cfg: HealthConfig) -> None:
    for f in CONFIG_FIELDS:
        value = format_config_value(f, getattr(cfg, f.key))
        shown = ("%s %s" % (value, f.unit)).strip() if value else "(not set)"
        env.stdout.write("%-22s %-20s %s\n" % (f.key, shown, f.help))


def _audit(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    if not 1 <= args.limit <= MAX_LIMIT:
        env.stderr.write("edgectl: --limit must be 1 to %d (got %d)\n" % (MAX_LIMIT, args.limit))
        return ExitCode.USAGE
    session = core.session(args.device)
    session.connect()
    try:
        entries = list_audit(session, args.limit)
    except AuditUnavailable as exc:
        env.stderr.write("edgectl: %s\n" % exc)
        return ExitCode.ERROR
    for entry in entries:
        if args.json:
            env.stdout.write(json.dumps(entry.to_wire(), ensure_ascii=False) + "\n")
        else:
            env.stdout.write(audit_line(entry) + "\n")
    if not entries and not args.json:
        env.stdout.write("no operator actions recorded on %s\n" % session.entry.display_name)
    return ExitCode.OK
