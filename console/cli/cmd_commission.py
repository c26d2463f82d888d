"""``edgectl commission``: the guided commissioning checklist from a terminal, with a JSON and a
printable HTML report per robot serial number. Exits CHECK_FAILED when a step fails."""

from __future__ import annotations

import argparse
import queue
import threading
from pathlib import Path
from typing import Any

from console.cli.registry import Commands
from console.core.app import ConsoleCore
from console.core.commissioning.checklist import (
    CANCELLED,
    DEFAULT_LOAD_S,
    PASSED,
    RUNNING,
    STATUS_WORDS,
    CommissionError,
    Commissioning,
    CommissionOptions,
    CommissionReport,
    StepResult,
)
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode


def register(sub: Any, commands: Commands) -> None:
    cmd = sub.add_parser("commission", help="commission a robot: checklist, pass or fail per step, saved report")
    cmd.add_argument("-o", "--output", required=True, metavar="REPORT_DIR",
                     help="folder for the reports (one sub-folder per robot serial number)")
    cmd.add_argument("--serial", help="the robot's serial number (default: the one the device reports)")
    cmd.add_argument("--golden", metavar="DIR", help="golden cases: NAME.npz inputs with NAME.expected.npz outputs")
    cmd.add_argument("--load-seconds", type=float, default=DEFAULT_LOAD_S, metavar="N",
                     help="how long the thermal load runs (default %g s)" % DEFAULT_LOAD_S)
    cmd.add_argument("--model", help="the deployed model to commission (default: the device's only model)")
    cmd.add_argument("--no-rollback-drill", action="store_true",
                     help="leave out the rollback drill (it switches the model to its previous version and back)")
    commands["commission"] = _commission


def step_lines(step: StepResult, number: int, total: int) -> list[str]:
    lines = ["[%d/%d] %-34s %s: %s" % (number, total, step.title, STATUS_WORDS.get(step.status, step.status),
                                       step.reason)]
    lines.extend("        %s" % detail for detail in step.details)
    return lines


def summary_line(report: CommissionReport) -> str:
    counts = {word: sum(1 for s in report.steps if s.status == key) for key, word in
              (("pass", "passed"), ("fail", "failed"), ("skip", "skipped"))}
    line = "commissioning of robot %s: %s (%s)" % (report.serial, report.overall.upper(),
                                                    ", ".join("%d %s" % (n, w) for w, n in counts.items()))
    return "%s\n%s" % (line, report.end_state) if report.end_state else line


def _commission(core: ConsoleCore, args: argparse.Namespace, env: ConsoleEnv) -> int:
    out_dir = Path(args.output).expanduser()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        env.stderr.write("edgectl: cannot write reports to %s (%s); choose a folder you can write to\n"
                         % (out_dir, exc.strerror or exc))
        return ExitCode.USAGE
    session = core.session(args.device)
    session.connect()
    options = CommissionOptions(serial=args.serial, golden=Path(args.golden).expanduser() if args.golden else None,
                                load_seconds=args.load_seconds, model=args.model,
                                rollback_drill=not args.no_rollback_drill)
    updates: queue.Queue[StepResult] = queue.Queue()
    try:
        run = Commissioning(session, env, options, listener=updates.put)
    except CommissionError as exc:
        env.stderr.write("edgectl: cannot commission %s: %s. Nothing was run.\n" % (args.device, exc))
        return ExitCode.USAGE
    result: list[CommissionReport] = []
    worker = threading.Thread(target=lambda: result.append(run.run()), name="commission", daemon=True)
    worker.start()
    total = len(run.steps)
    env.stdout.write("commissioning robot %s on %s%s\n" % (run.serial, session.entry.display_name,
                                                           " (model %s)" % run.model if run.model else ""))
    try:
        _follow(env, run, worker, updates, total)
    except KeyboardInterrupt:
        env.stderr.write("edgectl: cancelling: the running step stops, the rest is skipped\n")
        run.cancel()
        _follow(env, run, worker, updates, total)
    report = result[0] if result else run.report
    json_path, html_path = run.save(out_dir)
    env.stdout.write("%s\nreport: %s\n        %s\n" % (summary_line(report), json_path, html_path))
    if report.overall == CANCELLED:
        return ExitCode.JOB_CANCELLED
    return ExitCode.OK if report.overall == PASSED else ExitCode.CHECK_FAILED


def _follow(env: ConsoleEnv, run: Commissioning, worker: threading.Thread, updates: queue.Queue[StepResult],
            total: int) -> None:
    announced: set[str] = set()
    printed: set[str] = set()
    while worker.is_alive() or not updates.empty():
        try:
            step = updates.get(timeout=0.5)
        except queue.Empty:
            continue
        number = run.steps.index(step) + 1
        if step.status == RUNNING:
            if step.key not in announced:
                announced.add(step.key)
                env.stdout.write("[%d/%d] %s ...\n" % (number, total, step.title))
                env.stdout.flush()
        elif step.done and step.key not in printed:
            printed.add(step.key)
            env.stdout.write("\n".join(step_lines(step, number, total)) + "\n")
            env.stdout.flush()
