"""``edge-console``: the desktop GUI's entry point."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from console import __version__
from console.core.app import ConsoleCore
from console.core.devices.registry import UnknownDevice
from console.core.env import ConsoleEnv
from console.core.exit_codes import ExitCode
from console.core.settings import SettingsError
from device_runtime.protocol import MAX_RATE_HZ, MIN_RATE_HZ

APP_NAME = "Edge Operator Console"
ORG_NAME = "Edge Operator Console"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge-console", description="Edge Operator Console")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--device", help="device to open (default: the last one used, else local)")
    parser.add_argument("--page", default="dashboard",
                        choices=["dashboard", "models", "optimize", "jobs", "benchmarks", "health", "fleet"],
                        help="page to show (fleet: every registered device in one grid)")
    parser.add_argument("--field-mode", action="store_true",
                        help="open in field mode: one device, its models, health and a big Rollback button")
    parser.add_argument("--rate", type=float, help="telemetry samples per second (1-20)")
    parser.add_argument("--screenshot", metavar="PATH",
                        help="open the window, wait for live data, save a PNG of it and exit")
    parser.add_argument("--theme", choices=["system", "light", "dark"], help="colour theme")
    parser.add_argument("--stop-local", action="store_true",
                        help="stop this computer's runtime daemon (it outlives the window) and exit")
    return parser


def main(argv: list[str] | None = None, env: ConsoleEnv | None = None) -> int:
    env = env or ConsoleEnv.from_os()
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse already printed why
        return int(exc.code or 0)
    if args.version:
        env.stdout.write("edge-console %s\n" % __version__)
        return ExitCode.OK
    if args.stop_local:
        return _stop_local(env)
    if args.rate is not None and not MIN_RATE_HZ <= args.rate <= MAX_RATE_HZ:
        env.stderr.write("edge-console: --rate must be between %g and %g Hz\n" % (MIN_RATE_HZ, MAX_RATE_HZ))
        return ExitCode.USAGE
    try:
        core = ConsoleCore(env)
    except SettingsError as exc:
        env.stderr.write("edge-console: %s\n" % exc)
        return ExitCode.ERROR
    device = args.device or core.registry.settings.last_device
    try:
        core.registry.get(device)
    except UnknownDevice as exc:
        if args.device:
            env.stderr.write("edge-console: %s\n" % exc)
            return ExitCode.UNKNOWN_DEVICE
        device = "local"
    try:
        return _run_gui(core, env, args, device)
    finally:
        core.close()


def _stop_local(env: ConsoleEnv) -> int:
    from console.core.devices.local_runtime import LocalRuntimeError, stop_local_runtime

    try:
        said = stop_local_runtime(env)
    except LocalRuntimeError as exc:
        env.stderr.write("edge-console: this computer's runtime could not be stopped: %s\n" % exc)
        return ExitCode.ERROR
    env.stdout.write("%s\n" % (said or "this computer's runtime stopped"))
    return ExitCode.OK


def _run_gui(core: ConsoleCore, env: ConsoleEnv, args: argparse.Namespace, device: str) -> int:
    from PySide6.QtWidgets import QApplication

    from console.core import logs
    from console.ui import gui_gc
    from console.ui.main_window import MainWindow
    from console.ui.screenshot import WhenDrawn
    from console.ui.theme import apply_theme

    logs.install(env, "edge-console")
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "edge-console"])
    assert isinstance(app, QApplication)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORG_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("edge-console")
    gui_gc.install(app)  # cycles are collected on this thread only: Qt objects die where they live
    theme = apply_theme(app, args.theme or core.registry.settings.theme)
    window = MainWindow(core, theme, device, rate_hz=args.rate, page=args.page,
                        field_mode=True if args.field_mode else None)
    window.resize(1400, 900)
    window.show()
    shot = WhenDrawn(window, Path(args.screenshot), env.stderr) if args.screenshot else None
    try:
        code = app.exec()
    finally:
        window.shutdown()
        window.deleteLater()
    return shot.code if shot is not None else code
