"""Shared fixtures: temp console environments and real runtime daemons on temp sockets."""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from console.core.env import ConsoleEnv
from device_runtime.server.bridge import start_daemon
from tests.support.daemons import RunningDaemon, stop_daemon

# A run stopped from outside (CI's overall bound, .ci/run) writes where every thread was into
# EOC_STACKS_FILE, then ends; pytest's own capture would swallow a dump to stderr.
_STACKS_FILE = open(os.environ["EOC_STACKS_FILE"], "w") if os.environ.get("EOC_STACKS_FILE") else None  # noqa: SIM115
if _STACKS_FILE is not None:
    faulthandler.register(signal.SIGTERM, file=_STACKS_FILE, all_threads=True, chain=True)


@pytest.fixture(autouse=True)
def gui_thread_gc(request: pytest.FixtureRequest) -> Iterator[None]:
    """Qt objects live and die on the GUI thread, in the tests as in the console.

    Tests that use Qt get the console's own GUI-thread cycle collector (automatic collection,
    which would run on whichever worker thread allocates, stays off), and after each of them the
    widgets it closed are deleted and its cycles collected here, before the next test starts.
    """
    if "qapp" not in request.fixturenames:
        yield
        if "PySide6" in sys.modules:  # collection is off once a Qt test ran: keep up with it
            from PySide6.QtCore import QCoreApplication

            from console.ui import gui_gc

            collector = gui_gc.installed(QCoreApplication.instance())
            if collector is not None:
                collector.collect_due()
        return
    from PySide6.QtCore import QCoreApplication, QEvent

    from console.ui import gui_gc

    collector = gui_gc.install(request.getfixturevalue("qapp"))
    yield
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    collector.collect_all()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


# Names this run in the environment its daemons inherit, so that the end-of-run sweep below touches
# only this run's daemons (another run on the same machine may be starting one at that moment).
_RUN_ID = "%d-%d" % (os.getpid(), __import__("time").time_ns())
os.environ["EOC_TEST_RUN"] = _RUN_ID


def _orphan_daemons() -> list[tuple[int, str]]:
    """Runtime daemons this run started whose socket's folder is gone: a test removed its temp dir
    while something (a session that reconnects, a child edgectl) started the daemon again."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmd = proc.info["cmdline"] or []
        if "device_runtime" not in cmd or "serve" not in cmd or "--socket" not in cmd[:-1]:
            continue
        try:
            if proc.environ().get("EOC_TEST_RUN") != _RUN_ID:
                continue  # not this run's
        except (psutil.Error, OSError):
            continue
        socket_path = Path(cmd[cmd.index("--socket") + 1])
        if not socket_path.parent.exists():
            found.append((proc.info["pid"], " ".join(cmd[cmd.index("serve"):])))
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the daemons a run left behind, and name them: each is a leak to find and fix."""
    orphans = _orphan_daemons()
    for pid, _ in orphans:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if orphans and reporter is not None:
        reporter.write_line("")
        reporter.write_sep("=", "runtime daemons left running after their test's temp dir was removed", yellow=True)
        for pid, what in orphans:
            reporter.write_line("pid %d: %s" % (pid, what))


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short temp dir: unix socket paths are limited to ~107 bytes."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="eoc-") as tmp:
        yield Path(tmp)


@pytest.fixture
def console_env(short_tmp: Path) -> Iterator[ConsoleEnv]:
    """A console environment over temp dirs; its local daemon is stopped afterwards."""
    env = ConsoleEnv(
        config_dir=short_tmp / "cfg",
        data_dir=short_tmp / "data",
        runtime_dir=short_tmp / "run",
        environ={"HOME": str(short_tmp)},
    )
    yield env
    stop_daemon(env.local_socket)


@pytest.fixture
def daemon(short_tmp: Path) -> Iterator[RunningDaemon]:
    """A real ``edge-runtime serve`` process, ready when the fixture returns."""
    socket_path = short_tmp / "rt" / "edge-runtime.sock"
    root = short_tmp / "root"
    start_daemon(str(socket_path), str(root), ["--rate", "10"])
    yield RunningDaemon(socket_path, root)
    stop_daemon(socket_path)
