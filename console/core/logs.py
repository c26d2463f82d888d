"""The console's own log: a rotating file under its data directory, for the question "what happened?"
after the window is closed (a dropped link, a refused deploy, an exception on a worker thread).

``edge-console`` and ``edgectl`` install it at start; Help > Open log in the GUI opens it. Records of
the ``edge_console`` loggers at INFO and above go there, and warnings of the libraries underneath
(paramiko, Qt's Python side). An exception nobody caught, on any thread, is written with its
traceback before Python's own hook prints it.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
from pathlib import Path
from types import TracebackType

from console.core.env import ConsoleEnv

LOGGER = "edge_console"
MAX_BYTES = 1 << 20
BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"

_handler: logging.Handler | None = None
_root_level: int | None = None  # the root logger's level before install, restored by uninstall
_hooks_installed = False


def log_path(env: ConsoleEnv) -> Path:
    return env.data_dir / "logs" / "console.log"


def install(env: ConsoleEnv, program: str) -> Path | None:
    """Send the console's records to its log file (one handler per process: a second call moves it
    to this environment's file). Returns the file, or None when it cannot be written (the console
    runs on without a log; the reason goes to stderr once)."""
    global _handler
    path = log_path(env)
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
        _handler.close()
        _handler = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS,
                                                       encoding="utf-8", delay=True)
    except OSError as exc:
        env.stderr.write("%s: cannot write the log %s: %s\n" % (program, path, exc.strerror or exc))
        return None
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(logging.INFO)
    handler.addFilter(_ours_or_warning)
    root.addHandler(handler)
    global _root_level
    if _root_level is None:
        _root_level = root.level
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    _handler = handler
    _install_hooks()
    logging.getLogger(LOGGER).info("%s started (log %s)", program, path)
    return path


def uninstall() -> None:
    """Stop writing the log (for a console embedded in another program, and for tests)."""
    global _handler, _root_level
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
        _handler.close()
        _handler = None
    if _root_level is not None:
        root.setLevel(_root_level)
        _root_level = None


def _ours_or_warning(record: logging.LogRecord) -> bool:
    return record.name == LOGGER or record.name.startswith(LOGGER + ".") or record.levelno >= logging.WARNING


def _install_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    previous_hook, previous_thread_hook = sys.excepthook, threading.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if not issubclass(kind, KeyboardInterrupt):
            logging.getLogger(LOGGER).error("uncaught exception", exc_info=(kind, value, tb))
        previous_hook(kind, value, tb)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is not SystemExit and args.exc_value is not None:
            name = args.thread.name if args.thread is not None else "?"
            logging.getLogger(LOGGER).error("uncaught exception on thread %s", name,
                                            exc_info=(args.exc_type, args.exc_value, args.exc_traceback))
        previous_thread_hook(args)

    sys.excepthook = hook
    threading.excepthook = thread_hook
