"""Preflight for "Install runtime": a read-only look at a robot over SSH before anything is installed.

One shell script runs over one exec channel and prints ``key=value`` facts (architecture, Python,
glibc, L4T, CUDA, TensorRT bindings, free disk, power mode, sudo, systemd, installed runtimes).
:func:`parse_facts` and :func:`verdict` are pure, so the judgement is tested on real outputs; every
item is ok, warn or fail with a sentence, and an install refuses while any item fails.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import asdict, dataclass, field
from typing import Any

from console import __version__ as console_version
from console.transport.ssh_connection import SshConnection

OK, WARN, FAIL = "ok", "warn", "fail"
SYSTEM_PREFIX = "/opt/edge-runtime"
SYSTEM_STATE = "/var/lib/edge-runtime"
MIN_PYTHON = (3, 8)
MIN_GLIBC = (2, 17)  # manylinux2014: the oldest tag the runtime's dependencies still publish wheels for
ARCHES = ("x86_64", "aarch64")
MIN_FREE_MB, LOW_FREE_MB = 400, 2048  # an install needs ~300 MB (onnxruntime, numpy, onnx)
JETPACK_OF_L4T = {"32": "4", "34": "5 (developer preview)", "35": "5", "36": "6", "38": "7"}

# Runs with the device's python: what it is and whether it can make venvs and import TensorRT.
_PY_PROBE = r"""
import json, sys
print("python_version=%d.%d.%d" % tuple(sys.version_info[:3]))
try:
    import venv, ensurepip
    print("venv=yes")
except Exception:
    print("venv=no")
try:
    with open("/usr/local/cuda/version.json") as f:
        print("cuda=%s" % json.load(f)["cuda"]["version"])
except Exception:
    pass
try:
    import tensorrt
    print("tensorrt=%s" % tensorrt.__version__)
except Exception as e:
    print("tensorrt_error=%s" % ((str(e).splitlines() or [type(e).__name__])[0]))
"""

# $1 python, $2 user prefix ("" = the XDG data dir's edge-runtime), $3 system prefix, $4 system state, $5 probe.
_SCRIPT = r"""
PY="$1"; SYS_PREFIX="$3"; SYS_STATE="$4"
say() { printf '%s=%s\n' "$1" "$(printf '%s' "$2" | tr '\n' ' ')"; }
free_kb() { d="$1"; while [ ! -e "$d" ]; do d=$(dirname "$d"); done; df -Pk "$d" 2>/dev/null | awk 'NR==2 {print $4}'; }
say arch "$(uname -m)"
say user "$(id -un)"
say uid "$(id -u)"
say home "$HOME"
DATA_HOME="${XDG_DATA_HOME:-$HOME/.local/share}"
USER_PREFIX="${2:-$DATA_HOME/edge-runtime}"
say data_home "$DATA_HOME"
say config_home "${XDG_CONFIG_HOME:-$HOME/.config}"
say user_prefix "$USER_PREFIX"
say glibc "$(getconf GNU_LIBC_VERSION 2>/dev/null)"
if PYPATH=$(command -v "$PY" 2>/dev/null); then say python_path "$PYPATH"; "$PY" -c "$5" 2>/dev/null; fi
[ -r /etc/nv_tegra_release ] && say l4t "$(head -n 1 /etc/nv_tegra_release)"
NVCC=$(command -v nvcc 2>/dev/null || { [ -x /usr/local/cuda/bin/nvcc ] && echo /usr/local/cuda/bin/nvcc; })
[ -n "$NVCC" ] && say nvcc "$("$NVCC" --version 2>/dev/null | grep -i release)"
command -v nvpmodel >/dev/null 2>&1 && say power "$(nvpmodel -q 2>/dev/null | head -n 1)"
if [ "$(id -u)" = 0 ]; then say sudo root
elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then say sudo yes
else say sudo no; fi
[ -d /run/systemd/system ] && say systemd yes || say systemd no
systemctl --user show-environment >/dev/null 2>&1 && say user_systemd yes || say user_systemd no
say linger "$(loginctl show-user "$(id -un)" -p Linger --value 2>/dev/null)"
say free_user_kb "$(free_kb "$USER_PREFIX")"
say free_system_kb "$(free_kb "$SYS_PREFIX")"
say free_state_kb "$(free_kb "$SYS_STATE")"
for p in "$USER_PREFIX" "$SYS_PREFIX"; do
  [ -x "$p/bin/edge-runtime" ] && say "runtime:$p" "$("$p/bin/edge-runtime" --version 2>&1 | tail -n 1)"
done
exit 0
"""


@dataclass
class Check:
    key: str
    title: str
    status: str
    sentence: str


@dataclass
class DeviceFacts:
    """What the preflight learned, typed. Missing facts are empty strings, never guesses."""

    raw: dict[str, str]
    runtimes: dict[str, str] = field(default_factory=dict)  # install prefix -> "edge-runtime X.Y.Z"

    def get(self, key: str) -> str:
        return self.raw.get(key, "").strip()

    def version_tuple(self, key: str) -> tuple[int, ...]:
        found = re.search(r"(\d+(?:\.\d+)+)", self.get(key))
        return tuple(int(x) for x in found.group(1).split(".")) if found else ()

    @property
    def python_minor(self) -> str:
        """``3.10``: the version pip needs for the device's wheels."""
        return ".".join(str(x) for x in self.version_tuple("python_version")[:2])

    @property
    def can_sudo(self) -> bool:
        return self.get("sudo") in ("root", "yes")

    def runtime_version(self, prefix: str) -> str | None:
        text = self.runtimes.get(prefix)
        found = re.search(r"(\d+\.\d+\S*)\s*$", text or "")
        return found.group(1) if found else None


@dataclass
class Preflight:
    facts: DeviceFacts
    checks: list[Check]

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]

    @property
    def ok(self) -> bool:
        return not self.failures

    def check(self, key: str) -> Check:
        return next(c for c in self.checks if c.key == key)

    def refusal(self) -> str:
        """Why an install cannot go ahead, in one message (empty when it can)."""
        return "; ".join("%s: %s" % (c.title, c.sentence) for c in self.failures)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [asdict(c) for c in self.checks], "facts": dict(self.facts.raw)}


def parse_facts(text: str) -> DeviceFacts:
    raw: dict[str, str] = {}
    runtimes: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep or not key or " " in key:
            continue
        if key.startswith("runtime:"):
            runtimes[key[len("runtime:"):]] = value.strip()
        else:
            raw[key] = value
    return DeviceFacts(raw, runtimes)


def run_preflight(conn: SshConnection, python: str = "python3", user_prefix: str = "",
                  force_user: bool = False) -> Preflight:
    """Collect the facts over ``conn`` (read only) and judge them."""
    args = [python, user_prefix, SYSTEM_PREFIX, SYSTEM_STATE, _PY_PROBE]
    command = "sh -c %s preflight %s" % (shlex.quote(_SCRIPT), " ".join(shlex.quote(a) for a in args))
    result = conn.run(command, timeout_s=120)
    facts = parse_facts(result.stdout.decode("utf-8", "replace"))
    if not facts.get("arch"):
        raise PreflightError("the preflight did not run on the device (exit code %d): %s"
                             % (result.code, result.stderr.decode("utf-8", "replace").strip()))
    return verdict(facts, python, force_user)


class PreflightError(Exception):
    pass


def _mb(kb: str) -> int | None:
    return int(kb) // 1024 if kb.isdigit() else None


def verdict(facts: DeviceFacts, python: str = "python3", force_user: bool = False) -> Preflight:
    checks: list[Check] = []

    def add(key: str, title: str, status: str, sentence: str) -> None:
        checks.append(Check(key, title, status, sentence))

    arch = facts.get("arch")
    add("arch", "Architecture", OK if arch in ARCHES else FAIL, arch if arch in ARCHES else
        "%s: the runtime's dependencies have wheels for %s only" % (arch, " and ".join(ARCHES)))
    pyver = facts.version_tuple("python_version")
    if not facts.get("python_path"):
        add("python", "Python", FAIL, "%s is not on the device: install python3 (3.8 or newer)" % python)
    elif pyver[:2] < MIN_PYTHON:
        add("python", "Python", FAIL,
            "%s is Python %s; the runtime needs 3.8 or newer" % (python, facts.get("python_version")))
    else:
        add("python", "Python", OK, "Python %s (%s)" % (facts.get("python_version"), facts.get("python_path")))
    if facts.get("python_path") and facts.get("venv") != "yes":
        add("venv", "Virtual environments", FAIL,
            "%s cannot create virtual environments: install python3-venv" % python)
    elif facts.get("venv") == "yes":
        add("venv", "Virtual environments", OK, "venv and ensurepip are available")
    glibc = facts.version_tuple("glibc")
    add("glibc", "glibc", OK if glibc >= MIN_GLIBC else FAIL,
        "glibc %s" % ".".join(map(str, glibc)) if glibc >= MIN_GLIBC else
        "glibc %s is older than 2.17: no wheels of the runtime's dependencies fit" % (facts.get("glibc") or "unknown"))
    add("jetpack", "JetPack / L4T", OK, _l4t_sentence(facts.get("l4t")))
    cuda = facts.get("cuda") or _nvcc_version(facts.get("nvcc"))
    add("cuda", "CUDA", OK if cuda else WARN,
        "CUDA %s" % cuda if cuda else "no CUDA found (/usr/local/cuda/version.json, nvcc): models run on the CPU")
    trt = facts.get("tensorrt")
    add("tensorrt", "TensorRT bindings", OK if trt else WARN,
        "TensorRT %s imports with %s" % (trt, python) if trt else
        "TensorRT's Python bindings do not import with %s (%s): engine builds are unavailable, ONNX Runtime "
        "still works" % (python, facts.get("tensorrt_error") or "not installed"))
    system = facts.can_sudo and not force_user
    _disk(add, facts, system)
    power = facts.get("power")
    add("power", "Power mode", OK,
        power.split(":", 1)[-1].strip() if power else "nvpmodel is not present (not a Jetson)")
    sudo = facts.get("sudo")
    add("sudo", "sudo rights", OK if facts.can_sudo else WARN,
        {"root": "logged in as root: system install",
         "yes": "sudo without a password: system install with a system unit"}.get(
            sudo, "no passwordless sudo: user install in %s with a user unit" % facts.get("user_prefix")))
    _systemd(add, facts, system)
    _existing(add, facts, system)
    return Preflight(facts, checks)


def _l4t_sentence(line: str) -> str:
    found = re.search(r"R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)", line)
    if not found:
        return "not a Jetson (no /etc/nv_tegra_release)" if not line else "L4T: %s" % line
    jetpack = JETPACK_OF_L4T.get(found.group(1))
    return "L4T R%s.%s%s" % (found.group(1), found.group(2), " (JetPack %s)" % jetpack if jetpack else "")


def _nvcc_version(line: str) -> str:
    found = re.search(r"release\s+([\d.]+)", line)
    return found.group(1) if found else ""


def _disk(add: Any, facts: DeviceFacts, system: bool) -> None:
    places = [(SYSTEM_PREFIX, "free_system_kb"), (SYSTEM_STATE, "free_state_kb")] if system else [
        (facts.get("user_prefix"), "free_user_kb")]
    worst: tuple[int, str] | None = None
    for path, key in places:
        mb = _mb(facts.get(key))
        if mb is not None and (worst is None or mb < worst[0]):
            worst = (mb, path)
    if worst is None:
        add("disk", "Free disk", WARN, "free space could not be read (df)")
        return
    mb, path = worst
    status = FAIL if mb < MIN_FREE_MB else WARN if mb < LOW_FREE_MB else OK
    tail = {FAIL: ": the install needs about %d MB; free some space" % MIN_FREE_MB,
            WARN: ": enough for the install, little left for models", OK: ""}[status]
    add("disk", "Free disk", status, "%d MB free for %s%s" % (mb, path, tail))


def _systemd(add: Any, facts: DeviceFacts, system: bool) -> None:
    if system and facts.get("systemd") == "yes":
        add("systemd", "systemd", OK, "systemd runs: the runtime is installed as a system service")
    elif not system and facts.get("user_systemd") == "yes":
        add("systemd", "systemd", OK, "a user systemd runs: the runtime is installed as a user service with lingering")
    else:
        add("systemd", "systemd", WARN, "no %s systemd here: the bridge starts the runtime when the console connects"
            % ("system" if system else "user"))


def _existing(add: Any, facts: DeviceFacts, system: bool) -> None:
    prefix = SYSTEM_PREFIX if system else facts.get("user_prefix")
    version = facts.runtime_version(prefix)
    if prefix not in facts.runtimes:
        add("runtime", "Installed runtime", OK, "none in %s" % prefix)
    elif version is None:
        add("runtime", "Installed runtime", WARN, "%s/bin/edge-runtime does not run (%s): it will be replaced"
            % (prefix, facts.runtimes[prefix] or "no output"))
    elif version == console_version:
        add("runtime", "Installed runtime", OK, "%s in %s, the same version as this console" % (version, prefix))
    else:
        add("runtime", "Installed runtime", WARN, "%s in %s; this console is %s: an upgrade is offered"
            % (version, prefix, console_version))
