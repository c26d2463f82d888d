"""The offline wheelhouse a robot installs from, prepared and cached on the laptop.

Robots in the field usually have no internet, so the laptop gathers this project's wheel and every
wheel of its ``device`` extra for the robot's platform and Python (the same thing
``installers/device/wheelhouse.sh`` does, with the manylinux tags a robot's glibc accepts spelled
out: pip does not widen a ``--platform`` by itself). The dependencies are cached under the
console's data dir, keyed by platform and Python; the project wheel is refreshed on every use so a
source checkout never ships a stale runtime.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from console import __version__ as console_version
from console.core.env import ConsoleEnv

PROJECT = "edge_operator_console"
MANIFEST = "wheelhouse.json"
OLDEST_GLIBC_MINOR = 17
_OFFLINE = re.compile(r"NewConnectionError|Failed to establish a new connection|Temporary failure in name resolution|"
                      r"Network is unreachable|Connection refused|ProxyError|ConnectTimeout|Max retries exceeded")


class WheelhouseError(Exception):
    """No wheelhouse could be had; the message says why and what to do."""


@dataclass(frozen=True)
class WheelTarget:
    """What a robot's wheels must fit: CPU architecture, Python ``X.Y`` and glibc ``(2, N)``."""

    arch: str
    python: str
    glibc: tuple[int, int]

    @property
    def platform_tag(self) -> str:
        return "manylinux_%d_%d_%s" % (self.glibc[0], self.glibc[1], self.arch)

    @property
    def key(self) -> str:
        return "py%s-%s" % (self.python, self.platform_tag)

    def platforms(self) -> list[str]:
        """Every manylinux tag this glibc runs, newest first, with the legacy aliases."""
        tags = ["manylinux_2_%d_%s" % (minor, self.arch)
                for minor in range(self.glibc[1], OLDEST_GLIBC_MINOR - 1, -1)]
        tags.append("manylinux2014_%s" % self.arch)
        if self.arch == "x86_64":
            tags += ["manylinux2010_x86_64", "manylinux1_x86_64"]
        return tags


def project_wheels(directory: Path) -> list[Path]:
    return sorted(directory.glob("%s-*.whl" % PROJECT))


def check_wheelhouse(directory: Path) -> list[Path]:
    """The wheels in a wheelhouse given by hand; it must hold the runtime's own wheel."""
    if not directory.is_dir():
        raise WheelhouseError("%s is not a directory" % directory)
    if not project_wheels(directory):
        raise WheelhouseError("%s holds no %s wheel: build one with installers/device/wheelhouse.sh -o %s"
                              % (directory, PROJECT, directory))
    return sorted(directory.glob("*.whl"))


def _source_root() -> Path | None:
    """A source checkout to build the wheel from, when this console runs from one."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "pyproject.toml").is_file() and (root / "device_runtime").is_dir() else None


def _bundled_wheel_dir() -> Path | None:
    """The frozen console bundle carries the runtime wheel (installers/console/edge-console.spec)."""
    base = getattr(sys, "_MEIPASS", None)
    return Path(base) / "runtime-wheel" if base else None


class WheelhouseCache:
    """``<data_dir>/wheelhouses/<key>``: one complete wheelhouse per platform and Python."""

    def __init__(self, env: ConsoleEnv, environ: Mapping[str, str] | None = None) -> None:
        self.env = env
        self.root = env.data_dir / "wheelhouses"
        self.environ = dict(env.environ if environ is None else environ)

    def path(self, target: WheelTarget) -> Path:
        return self.root / target.key

    def prepare(self, target: WheelTarget, say: Callable[[str], None] = lambda _: None) -> Path:
        """The wheelhouse for ``target``: the cached one with a fresh project wheel, else a new one."""
        final = self.path(target)
        if (final / MANIFEST).is_file():
            say("using the cached wheelhouse %s" % final)
            try:
                self._project_wheel(final, target)
            except WheelhouseError as exc:
                if not project_wheels(final):
                    raise
                say("kept the cached runtime wheel (%s)" % exc)  # offline: the cached one still installs
            return final
        self.root.mkdir(parents=True, exist_ok=True)
        work = self.root / (".%s.tmp-%d" % (target.key, os.getpid()))
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        try:
            say("building the runtime wheel")
            wheel = self._project_wheel(work, target)
            say("downloading the device's dependencies for Python %s on %s" % (target.python, target.platform_tag))
            self._download(work, wheel, target)
            manifest = {"target": target.key, "console": console_version,
                        "wheels": sorted(p.name for p in work.glob("*.whl"))}
            (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
            if final.exists():
                shutil.rmtree(final)
            work.rename(final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        say("wheelhouse ready: %s" % final)
        return final

    def _project_wheel(self, directory: Path, target: WheelTarget) -> Path:
        """Put the current runtime wheel into ``directory``, replacing an older one."""
        staging = directory / ".project"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            bundled, source = _bundled_wheel_dir(), _source_root()
            if bundled is not None and project_wheels(bundled):
                for wheel in project_wheels(bundled):
                    shutil.copy2(wheel, staging / wheel.name)
            elif source is not None:
                self._pip(["wheel", "-q", "--no-deps", "--wheel-dir", str(staging), str(source)],
                          "building the runtime wheel from %s" % source, target)
            else:
                raise WheelhouseError("this console carries no runtime wheel; pass a wheelhouse built with "
                                      "installers/device/wheelhouse.sh")
            new = project_wheels(staging)[-1]
            for old in project_wheels(directory):
                old.unlink()
            return Path(shutil.move(str(new), str(directory / new.name)))
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _download(self, directory: Path, wheel: Path, target: WheelTarget) -> None:
        args = ["download", "-q", "--dest", str(directory), "--only-binary=:all:", "--python-version", target.python]
        for tag in target.platforms():
            args += ["--platform", tag]
        self._pip([*args, "%s[device]" % wheel], "downloading wheels", target)

    def _pip(self, args: list[str], doing: str, target: WheelTarget) -> None:
        environ = {**self.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        environ.pop("PYTHONPATH", None)
        try:
            proc = subprocess.run([self.env.python, "-m", "pip", *args], capture_output=True, text=True,
                                  env=environ, timeout=1800, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise WheelhouseError("%s failed: %s" % (doing, exc)) from exc
        if proc.returncode == 0:
            return
        output = (proc.stderr + proc.stdout).strip()
        last = output.splitlines()[-1] if output else "exit code %d" % proc.returncode
        if _OFFLINE.search(output):
            raise WheelhouseError(
                "this laptop is offline (the package index cannot be reached) and there is no cached wheelhouse "
                "for Python %s on %s in %s. Connect the laptop to the internet once to prepare it, or pass a "
                "wheelhouse built elsewhere with installers/device/wheelhouse.sh (--wheelhouse DIR)"
                % (target.python, target.platform_tag, self.path(target)))
        if args[0] == "download":
            raise WheelhouseError("no complete set of wheels for Python %s on %s: %s"
                                  % (target.python, target.platform_tag, last))
        raise WheelhouseError("%s failed: %s" % (doing, last))
