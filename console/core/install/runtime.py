"""Install runtime: commission a robot's ``edge-runtime`` over SSH, headless or from the GUI.

preflight (read only) -> wheelhouse for the robot's platform and Python (cached on the laptop) ->
SFTP upload of the wheelhouse and ``installers/device`` (resumable, verified) -> ``install.sh`` on
the robot (a system install with a system unit when sudo allows it, else a user install with a
user unit) -> the device entry points at the installed runtime -> a handshake through the bridge.
``install.sh`` builds a new environment and swaps it in only once it works, so a failed install
leaves the previous runtime running; the error says what failed and which runtime still answers.
Every remote command runs on an exec channel with each argument quoted.
"""

from __future__ import annotations

import posixpath
import re
import select
import shlex
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from console import __version__ as console_version
from console.core.devices.registry import DeviceRegistry
from console.core.devices.session import DeviceSession, make_transport
from console.core.env import ConsoleEnv
from console.core.install.preflight import SYSTEM_PREFIX, SYSTEM_STATE, Preflight, run_preflight
from console.core.install.wheelhouse import WheelhouseCache, WheelTarget, check_wheelhouse
from console.core.settings import DeviceEntry
from console.transport.sftp_upload import UploadProgress, file_sha256, upload
from console.transport.ssh_connection import SshConnection

INSTALLED, UPGRADED, CURRENT, UPGRADE_OFFERED = "installed", "upgraded", "current", "upgrade-offered"
TEMPLATES = ("install.sh", "edge-runtime.service.in", "edge-runtime-user.service.in")
STAGE_DIR = ".cache/edge-runtime/install"  # under the device user's home


class InstallError(Exception):
    """The install stopped at ``stage``; the message says what failed and what still runs."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage


@dataclass(frozen=True)
class InstallProgress:
    stage: str  # preflight, wheelhouse, upload, install, handshake
    text: str
    fraction: float | None = None  # of this stage, when known


ProgressFn = Callable[[InstallProgress], None]


@dataclass
class InstallOptions:
    upgrade: bool = False  # replace a runtime whose version differs from the console's (or reinstall)
    wheelhouse: Path | None = None  # a wheelhouse built elsewhere instead of the laptop's cache
    force_user: bool = False  # a user install even where sudo would allow a system one
    prefix: str | None = None  # the user install's prefix (default: the device's XDG data dir)


@dataclass
class InstallResult:
    outcome: str
    mode: str  # system or user
    prefix: str
    runtime_path: str
    runtime_version: str  # what the handshake reported
    previous_version: str | None
    service: str  # what became of the unit, in install.sh's words

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class InstallTarget:
    """Where an install would go and the runtime it finds there, judged from the preflight's facts alone."""

    mode: str  # system or user
    prefix: str
    state: str
    installed_version: str | None  # the runtime already in ``prefix``, if any

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def install_target(pre: Preflight, options: InstallOptions) -> InstallTarget:
    """A system install where sudo allows it (unless a user install is asked for), else a user install."""
    facts = pre.facts
    system = facts.can_sudo and not options.force_user
    prefix = SYSTEM_PREFIX if system else facts.get("user_prefix")
    state = SYSTEM_STATE if system else posixpath.join(facts.get("data_home"), "edge-runtime")
    return InstallTarget("system" if system else "user", prefix, state, facts.runtime_version(prefix))


def installers_dir() -> Path:
    """``installers/device`` of this checkout (or of the bundle, which ships it beside the wheel)."""
    import sys

    for base in (Path(__file__).resolve().parents[3], Path(getattr(sys, "_MEIPASS", "/nonexistent"))):
        candidate = base / "installers" / "device"
        if all((candidate / name).is_file() for name in TEMPLATES):
            return candidate
    raise InstallError("wheelhouse", "this console does not carry installers/device (install.sh and its units)")


class RuntimeInstaller:
    """Installs on one SSH device. ``registry`` keeps the runtime's path, registered device or not."""

    def __init__(self, env: ConsoleEnv, entry: DeviceEntry, registry: DeviceRegistry | None = None,
                 progress: ProgressFn | None = None) -> None:
        self.env = env
        self.entry = entry
        self.registry = registry
        self.progress = progress or (lambda _p: None)
        self.python = entry.python or "python3"
        login = make_transport(entry, env).ssh_login() if entry.kind == "ssh" else None
        if login is None:
            raise InstallError("preflight", "%s is not an SSH device: the local device uses this console's own "
                                            "runtime and needs no install" % entry.name)
        self.transport = login

    def _say(self, stage: str, text: str, fraction: float | None = None) -> None:
        self.progress(InstallProgress(stage, text, fraction))

    def close(self) -> None:
        self.transport.close()

    def preflight(self, options: InstallOptions | None = None) -> Preflight:
        options = options or InstallOptions()
        self._say("preflight", "checking %s (read only)" % self.entry.name)
        return run_preflight(self.transport.connection(), self.python, options.prefix or "", options.force_user)

    def install(self, options: InstallOptions) -> InstallResult:
        pre = self.preflight(options)
        if not pre.ok:
            raise InstallError("preflight", "not installing on %s: %s" % (self.entry.name, pre.refusal()))
        facts = pre.facts
        target = install_target(pre, options)
        system, prefix, state, mode = target.mode == "system", target.prefix, target.state, target.mode
        runtime = posixpath.join(prefix, "bin", "edge-runtime")
        previous = target.installed_version
        if previous is not None and not options.upgrade:
            outcome = CURRENT if previous == console_version else UPGRADE_OFFERED
            self._say("install", "runtime %s is installed in %s%s" % (
                previous, prefix, "" if outcome == CURRENT else "; this console is %s: --upgrade installs it"
                % console_version))
            version = self._point_and_handshake(runtime)
            return InstallResult(outcome, mode, prefix, runtime, version, previous, "unchanged")
        conn = self.transport.connection()
        wheels = self._wheelhouse(pre, options)
        stage = posixpath.join(facts.get("home"), STAGE_DIR)
        self._say("upload", "uploading %d files to %s" % (len(wheels) + len(TEMPLATES), stage), 0.0)
        stage_files(conn, stage, wheels, [installers_dir() / name for name in TEMPLATES],
                    lambda text, frac: self._say("upload", text, frac))
        service = self._run_install(conn, stage, prefix, state, system, facts.get("user"), previous)
        if not system and "is running" not in service:
            # No unit manages the daemon: stop the old one so the bridge starts the new runtime.
            conn.run("%s stop" % shlex.quote(runtime), timeout_s=60)
        version = self._point_and_handshake(runtime)
        if version != console_version:
            raise InstallError("handshake", "the install finished but %s answers with runtime %s, not %s"
                               % (self.entry.name, version, console_version))
        return InstallResult(UPGRADED if previous else INSTALLED, mode, prefix, runtime, version, previous, service)

    def _wheelhouse(self, pre: Preflight, options: InstallOptions) -> list[Path]:
        if options.wheelhouse is not None:
            self._say("wheelhouse", "using the wheelhouse %s" % options.wheelhouse)
            return check_wheelhouse(options.wheelhouse)
        facts = pre.facts
        glibc = facts.version_tuple("glibc")
        target = WheelTarget(facts.get("arch"), facts.python_minor, (glibc[0], glibc[1]))
        directory = WheelhouseCache(self.env).prepare(target, lambda text: self._say("wheelhouse", text))
        return check_wheelhouse(directory)

    def _run_install(self, conn: SshConnection, stage: str, prefix: str, state: str, system: bool, user: str,
                     previous: str | None) -> str:
        args = ["env", "PYTHON=%s" % self.python, "bash", posixpath.join(stage, "install.sh"),
                "--wheels", posixpath.join(stage, "wheels"), "--prefix", prefix, "--state", state]
        args += ["--operator", user] if system else ["--user-unit"]
        if system and user != "root":
            args = ["sudo", "-n", *args]
        self._say("install", "installing into %s (%s install)" % (prefix, "system" if system else "user"))
        lines: list[str] = []

        def on_line(line: str) -> None:
            lines.append(line)
            self._say("install", line)

        code, err = stream(conn, " ".join(shlex.quote(a) for a in args), on_line)
        if code != 0:
            still = remote_runtime_version(conn, posixpath.join(prefix, "bin", "edge-runtime"))
            kept = ("the previous runtime %s in %s still works" % (still, prefix) if still else
                    "no runtime was installed before" if previous is None else
                    "the previous runtime %s does not answer either" % previous)
            raise InstallError("install", "installing the runtime on %s failed: %s. %s."
                               % (self.entry.name, _essence(err) or "exit code %d" % code, kept[0].upper() + kept[1:]))
        return lines[-1] if lines else ""

    def _point_and_handshake(self, runtime: str) -> str:
        """Save the runtime path on the entry, then connect afresh (a new login picks up new groups)."""
        self.entry.runtime = runtime
        if self.registry is not None:  # an alias or user@host too: the next connection must find it
            self.registry.remember_runtime(self.entry)
        self.transport.close()
        self._say("handshake", "connecting through %s bridge" % runtime)
        session = DeviceSession(self.entry, make_transport(self.entry, self.env), self.env.clock)
        try:
            session.connect()
            return session.runtime_version or ""
        except Exception as exc:
            raise InstallError("handshake", "the runtime is installed in %s but the handshake failed: %s"
                               % (posixpath.dirname(posixpath.dirname(runtime)), exc)) from exc
        finally:
            session.close()


def _essence(stderr: str) -> str:
    """The lines of install.sh's error stream that say what went wrong (pip's ERROR lines and its own)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    picked = [line for line in lines if line.startswith(("ERROR:", "install.sh:"))]
    return " ".join(picked or lines[-3:])


# -- remote steps ------------------------------------------------------------------------------
def stage_files(conn: SshConnection, stage: str, wheels: list[Path], templates: list[Path],
                say: Callable[[str, float], None]) -> None:
    """Upload into ``stage`` (templates) and ``stage/wheels`` what the device does not already hold.

    Files already there with the same sha256 are kept (a re-install sends nothing twice); wheels
    of an earlier wheelhouse are removed so pip sees exactly this one.
    """
    wheel_dir = posixpath.join(stage, "wheels")
    listing = conn.run("sh -c %s hash %s" % (shlex.quote('cd "$1" 2>/dev/null && sha256sum -- * wheels/* 2>/dev/null; '
                                                         'exit 0'), shlex.quote(stage)), timeout_s=300)
    have = {}
    for line in listing.stdout.decode("utf-8", "replace").splitlines():
        digest, _, name = line.partition("  ")
        have[name.strip()] = digest
    todo = [(path, remote, rel) for path, remote, rel in
            [(w, wheel_dir, "wheels/" + w.name) for w in wheels] + [(t, stage, t.name) for t in templates]
            if have.get(rel) != file_sha256(path)]
    total = sum(path.stat().st_size for path, _, _ in todo) or 1
    done = 0
    start = time.monotonic()
    for path, remote, _rel in todo:
        def report(p: UploadProgress, base: int = done, name: str = path.name) -> None:
            sent = base + p.sent
            rate = sent / max(time.monotonic() - start, 1e-3)
            say("uploading %s: %.1f of %.1f MB at %.1f MB/s" % (name, sent / 1e6, total / 1e6, rate / 1e6),
                sent / total)
        upload(conn, path, remote, progress=report)
        done += path.stat().st_size
    say("uploaded %d files (%.1f MB); %d were already on the device"
        % (len(todo), done / 1e6, len(wheels) + len(templates) - len(todo)), 1.0)
    sftp = conn.sftp()
    try:
        keep = {w.name for w in wheels}
        for name in sftp.listdir(wheel_dir):
            if name.endswith(".whl") and name not in keep:
                sftp.remove(posixpath.join(wheel_dir, name))
    finally:
        sftp.close()


def stream(conn: SshConnection, command: str, on_line: Callable[[str], None],
           timeout_s: float = 1800.0) -> tuple[int, str]:
    """Run ``command``, handing each stdout line over as it comes; the exit code and stderr."""
    channel = conn.exec(command)
    channel.shutdown_write()
    err = bytearray()
    pending = b""
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            if channel.recv_ready():
                pending += channel.recv(65536)
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    on_line(line.decode("utf-8", "replace"))
            elif channel.recv_stderr_ready():
                err += channel.recv_stderr(65536)
            elif channel.exit_status_ready() or channel.closed:
                break
            elif time.monotonic() > deadline:
                raise InstallError("install", "%s did not finish within %.0f s" % (command, timeout_s))
            else:
                select.select([channel], [], [], 0.2)
        if pending:
            on_line(pending.decode("utf-8", "replace"))
        return channel.recv_exit_status(), err.decode("utf-8", "replace")
    finally:
        channel.close()


def remote_runtime_version(conn: SshConnection, runtime: str) -> str | None:
    """The version ``runtime --version`` prints on the device, or None when it does not run."""
    result = conn.run("%s --version" % shlex.quote(runtime), timeout_s=60)
    found = re.search(r"(\d+\.\d+\S*)\s*$", result.stdout.decode("utf-8", "replace"))
    return found.group(1) if result.code == 0 and found else None
