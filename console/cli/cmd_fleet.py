"""``edgectl fleet``: status, staged rollouts, rollbacks and health runs over many devices, chosen by tag."""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path
from typing import Any

from console.cli.registry import Commands
from console.core.app import ConsoleCore
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from console.core.fleet.facts import device_facts, run_health
from console.core.fleet.prompts import OneAtATime
from console.core.fleet.records import RolloutLog, RolloutRecord
from console.core.fleet.rollout import DeployPlan, Fleet, FleetProgress, resume_plan
from console.core.fleet.runner import DEFAULT_PARALLEL, OK, UNREACHABLE, DeviceOutcome, run_each
from console.core.fleet.waves import parse_waves


def register(sub: Any, commands: Commands) -> None:
    fleet = sub.add_parser("fleet", help="many devices at once: status, staged rollouts, rollbacks (by tag)")
    actions = fleet.add_subparsers(dest="fleet_action", metavar="ACTION", required=True)
    status = actions.add_parser("status", help="every selected device's state, versions, health and alerts")
    _select(status, required=False)
    status.add_argument("--json", action="store_true")
    deploy = actions.add_parser("deploy", help="upload a package everywhere, then activate it in waves")
    deploy.add_argument("package", type=Path, help="a .tar.gz model package")
    _select(deploy, required=True)
    deploy.add_argument("--canary", type=int, default=1, help="devices in the first wave, alone (default 1)")
    deploy.add_argument("--waves", default="100%", help="where each later wave ends: 25%%,100%% (default 100%%)")
    deploy.add_argument("--max-failures", type=int, default=0, help="stop once more devices than this failed")
    deploy.add_argument("--rollback-failed-wave", action="store_true",
                        help="when the rollout stops, roll back the devices of the failed wave that took it")
    deploy.add_argument("--limit-rate", type=float, metavar="MB/S",
                        help="cap all uploads together at this many megabytes per second (default: no cap)")
    deploy.add_argument("--why", default="", help="a reason, kept in each device's history and the record")
    deploy.add_argument("--json", action="store_true", help="print the rollout record as JSON")
    rollback = actions.add_parser("rollback", help="return a model to its previous version on every device")
    rollback.add_argument("model")
    _select(rollback, required=True)
    rollback.add_argument("--to", help="the version to return to (default: each device's previous one)")
    rollback.add_argument("--why", default="")
    rollback.add_argument("--json", action="store_true")
    health = actions.add_parser("run-health", help="run the health checks on every selected device now")
    _select(health, required=True)
    health.add_argument("--json", action="store_true")
    resume = actions.add_parser("resume", help="take a stopped or cut-off deploy to the end, on the devices left")
    resume.add_argument("id")
    resume.add_argument("--max-failures", type=int, help="a new threshold (default: the rollout's own)")
    resume.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL, help="devices at a time (default 8)")
    resume.add_argument("--json", action="store_true")
    abandon = actions.add_parser("abandon", help="close a stopped or cut-off rollout as it stands")
    abandon.add_argument("id")
    rollouts = actions.add_parser("rollouts", help="the rollouts this laptop ran, or one of them in full")
    rollouts.add_argument("id", nargs="?")
    rollouts.add_argument("--json", action="store_true")
    commands["fleet"] = _fleet


def _select(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument("--tag", action="append", default=[], help="devices carrying this tag (repeat: all of them)")
    parser.add_argument("--devices", default="", help="and these devices, comma-separated")
    parser.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL, help="devices at a time (default 8)")
    parser.set_defaults(selection_required=required)


def _fleet(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    log = RolloutLog(env.data_dir / "rollouts")
    if args.fleet_action == "rollouts":
        return _rollouts(log, args, env)
    old, resumed = None, None
    if args.fleet_action in ("resume", "abandon"):
        old = _load(log, args.id, env)
        if old is None:
            return ExitCode.ERROR
        if args.fleet_action == "abandon":
            return _abandon(Fleet({}, env.operator, log), old, env)
        try:
            resumed = resume_plan(old, args.max_failures)
        except ValueError as exc:
            env.stderr.write("edgectl: %s\n" % exc)
            return ExitCode.ERROR
        devices: list[str] | None = resumed.devices
    else:
        devices = _targets(core, args, env)
    if devices is None:
        return ExitCode.USAGE
    if args.parallel < 1:
        env.stderr.write("edgectl: --parallel must be 1 or more\n")
        return ExitCode.USAGE
    env.ssh_prompts = OneAtATime(env.ssh_prompts)  # devices connect at once; their questions come one by one
    sessions = {d: core.session(d) for d in devices}

    def show(phase: str, outcome: DeviceOutcome) -> None:
        env.stderr.write("%-9s %-16s %-11s %5.1f s  %s\n" % (phase, outcome.device, outcome.status, outcome.seconds,
                                                              outcome.why or _brief(outcome.detail)))
        env.stderr.flush()

    def stage(text: str) -> None:
        env.stderr.write("%s\n" % text)
        env.stderr.flush()

    if args.fleet_action == "status":
        outcomes = run_each(devices, lambda d: device_facts(sessions[d]), "Reading the status", args.parallel,
                            lambda o: show("status", o), env.clock)
        return _status(core, outcomes, args, env)
    if args.fleet_action == "run-health":
        outcomes = run_each(devices, lambda d: run_health(sessions[d]), "The health run", args.parallel,
                            lambda o: show("health", o), env.clock)
        if args.json:
            env.stdout.write(json.dumps([o.to_json() for o in outcomes], ensure_ascii=False) + "\n")
        else:
            _outcome_table(env, outcomes)
        return _exit(outcomes)
    fleet = Fleet(sessions, env.operator, log, args.parallel, FleetProgress(stage, show), env.clock)
    selector = {"tags": args.tag, "devices": [d for d in args.devices.split(",") if d]} if old is None else {}
    if args.fleet_action == "rollback":
        record = fleet.rollback(args.model, devices, args.to, args.why, selector)
    elif old is not None and resumed is not None:
        record = fleet.resume(old, resumed)
    else:
        if not args.package.is_file():
            env.stderr.write("edgectl: %s is not a file\n" % args.package)
            return ExitCode.USAGE
        if args.package.suffix == ".onnx":
            env.stderr.write("edgectl: fleet deploy sends a package, so every robot gets the same bytes: build one "
                             "first (edgectl package build %s --name NAME --version V --key KEY)\n" % args.package)
            return ExitCode.USAGE
        if args.limit_rate is not None and args.limit_rate <= 0:
            env.stderr.write("edgectl: --limit-rate must be more than 0 MB/s\n")
            return ExitCode.USAGE
        try:
            plan = DeployPlan(args.package, devices, parse_waves(args.waves), args.canary, args.max_failures,
                              args.rollback_failed_wave, args.why, selector,
                              args.limit_rate * 1e6 if args.limit_rate else None)
            record = fleet.deploy(plan)
        except ValueError as exc:
            env.stderr.write("edgectl: %s; nothing was sent\n" % exc)
            return ExitCode.USAGE
    if args.json:
        env.stdout.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
    else:
        _show_record(env, record, log)
    final = [p.outcome for p in record.final().values()]
    return ExitCode.ERROR if record.stopped else _exit(final)


def _targets(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> list[str] | None:
    """The selected devices in registry order, then named ones; None (after saying why) when none is selected."""
    names = [n for n in args.devices.split(",") if n]
    if args.selection_required and not args.tag and not names:
        env.stderr.write("edgectl: choose the devices: --tag TAG (repeat) and/or --devices A,B\n")
        return None
    chosen = [d.name for d in core.registry.tagged(args.tag)] if args.tag or not names else []
    for name in names:
        core.registry.get(name)  # an unknown name is refused before anything runs
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        env.stderr.write("edgectl: no registered device carries %s (add one: edgectl devices tag NAME --add %s)\n"
                         % (" and ".join(args.tag), args.tag[0]))
        return None
    return chosen


def _brief(detail: dict[str, Any]) -> str:
    if "version" in detail and detail.get("model"):
        return "%s %s (%s)" % (detail["model"], detail["version"], detail.get("result") or "done")
    if "health" in detail and "runtime" not in detail:
        return str(detail["health"])
    return ""


def _exit(outcomes: list[DeviceOutcome]) -> int:
    if all(o.status == OK for o in outcomes):
        return ExitCode.OK
    return ExitCode.UNREACHABLE if any(o.status == UNREACHABLE for o in outcomes) else ExitCode.ERROR


def _status(core: ConsoleCore, outcomes: list[DeviceOutcome], args: argparse.Namespace, env: ConsoleEnv) -> int:
    rows = []
    for o in outcomes:
        tags = core.registry.get(o.device).tags
        rows.append({"device": o.device, "tags": tags, "status": o.status, "why": o.why,
                     "seconds": round(o.seconds, 3), **o.detail})
    if args.json:
        env.stdout.write(json.dumps({"devices": rows}, ensure_ascii=False) + "\n")
        return _exit(outcomes)
    out = env.stdout
    out.write("%-16s %-11s %-24s %-8s %-10s %-10s %7s %6s  %s\n" % (
        "DEVICE", "STATE", "BOARD", "JETPACK", "RUNTIME", "HEALTH", "HOTTEST", "ALERTS", "MODELS"))
    for row in rows:
        if row["status"] != OK:
            out.write("%-16s %-11s %s\n" % (row["device"], row["status"], row["why"]))
            continue
        models = ", ".join("%s %s" % (m, v or "(none active)") for m, v in sorted(row["models"].items())) or "-"
        hottest = "%.1f °C" % row["hottest_c"] if row["hottest_c"] is not None else "-"
        out.write("%-16s %-11s %-24s %-8s %-10s %-10s %7s %6d  %s\n" % (
            row["device"], row["state"], (row["board"] or "?")[:24], row["jetpack"] or "-", row["runtime"] or "?",
            row["health"], hottest, row["open_alerts"], models))
    return _exit(outcomes)


def _outcome_table(env: ConsoleEnv, outcomes: list[DeviceOutcome]) -> None:
    for o in outcomes:
        env.stdout.write("%-16s %-11s %5.1f s  %s\n" % (o.device, o.status, o.seconds, o.why or _brief(o.detail)))


def _when(t: float | None) -> str:
    return datetime.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S") if t else "-"


def _show_record(env: ConsoleEnv, record: RolloutRecord, log: RolloutLog) -> None:
    out = env.stdout
    what = record.what
    out.write("%s %s: %s by %s, %s\n" % (record.kind, record.id, what.get("package") or what.get("model"),
                                         record.who, _when(record.started)))
    for device, last in record.final().items():
        o = last.outcome
        out.write("  %-16s %-11s %-9s %s\n" % (device, o.status, last.phase, o.why or _brief(o.detail)))
    counts = ", ".join("%d %s" % (n, s) for s, n in sorted(record.counts().items()))
    out.write("%s%s. Record: %s\n" % ("stopped: %s; " % record.stopped if record.stopped else "", counts,
                                      log.path(record.id)))
    if record.open:
        out.write("To go on with the devices left: edgectl fleet resume %s (or close it: edgectl fleet abandon %s)\n"
                  % (record.id, record.id))
    elif record.closed:
        out.write("%s\n" % record.closed)


def _load(log: RolloutLog, record_id: str, env: ConsoleEnv) -> RolloutRecord | None:
    try:
        return log.load(record_id)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        env.stderr.write("edgectl: no readable rollout %r (%s); edgectl fleet rollouts lists them\n"
                         % (record_id, exc))
        return None


def _abandon(fleet: Fleet, old: RolloutRecord, env: ConsoleEnv) -> int:
    try:
        fleet.abandon(old)
    except ValueError as exc:
        env.stderr.write("edgectl: %s\n" % exc)
        return ExitCode.ERROR
    env.stdout.write("rollout %s %s; each device keeps what it runs now (edgectl fleet status shows it)\n"
                     % (old.id, old.closed))
    return ExitCode.OK


def _rollouts(log: RolloutLog, args: argparse.Namespace, env: ConsoleEnv) -> int:
    if args.id:
        record = _load(log, args.id, env)
        if record is None:
            return ExitCode.ERROR
        if args.json:
            env.stdout.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
            return ExitCode.OK
        _show_record(env, record, log)
        for phase in record.phases:
            o = phase.outcome
            env.stdout.write("    %-8s %-5s %-16s %-11s %5.1f s  %s\n" % (
                phase.phase, phase.wave or "-", o.device, o.status, o.seconds, o.why or _brief(o.detail)))
        return ExitCode.OK
    records, problems = log.records()
    for problem in problems:
        env.stderr.write("edgectl: %s\n" % problem)
    if args.json:
        env.stdout.write(json.dumps([r.to_json() for r in records], ensure_ascii=False) + "\n")
    elif not records:
        env.stdout.write("no rollouts yet (edgectl fleet deploy PKG --tag TAG starts one)\n")
    for r in records if not args.json else []:
        counts = ", ".join("%d %s" % (n, s) for s, n in sorted(r.counts().items()))
        env.stdout.write("%-44s %-19s %-20s %s  %s\n" % (r.id, _when(r.started), r.who, counts, r.state()))
    return ExitCode.ERROR if problems else ExitCode.OK
