"""``edge-runtime doctor``'s checks of the installation: each says what it found and what to fix.

Checks are data (:class:`Check`); each reader takes its roots as parameters so tests run it
on temp trees. A ``fail`` makes ``doctor`` exit non-zero; a ``warn`` is advice.
"""

from __future__ import annotations

import glob
import os
import shutil
import stat
import subprocess
import sys
from typing import Callable, Dict, List, Optional

OK = "ok"
WARN = "warn"
FAIL = "fail"

MIN_FREE_FAIL_MB = 200.0
MIN_FREE_WARN_MB = 1024.0


class Check:
    __slots__ = ("fix", "message", "name", "status")

    def __init__(self, name: str, status: str, message: str, fix: str = "") -> None:
        self.name = name
        self.status = status
        self.message = message
        self.fix = fix

    def to_dict(self) -> Dict[str, str]:
        return {"name": self.name, "status": self.status, "message": self.message, "fix": self.fix}

    def __repr__(self) -> str:
        return "Check(%r, %r, %r)" % (self.name, self.status, self.message)


def check_python() -> Check:
    version = "%d.%d.%d" % sys.version_info[:3]
    return Check("python", OK, "Python %s (%s)" % (version, sys.executable))


def check_state_dir(root: str, uid: Optional[int] = None) -> Check:
    """The store and state: present, ours, writable, and closed to other users."""
    uid = os.getuid() if uid is None else uid
    try:
        st = os.stat(root)
    except FileNotFoundError:
        return Check("state", WARN, "%s does not exist yet" % root, "it is created when the daemon first starts")
    except OSError as exc:
        return Check("state", FAIL, "cannot read %s: %s" % (root, exc.strerror),
                     "run doctor as the edge-runtime user or with sudo")
    mode = stat.S_IMODE(st.st_mode)
    problems = []
    if mode & 0o007:
        problems.append("other users can access it (mode %04o)" % mode)
    if mode & 0o020:
        problems.append("its group can write it (mode %04o)" % mode)
    if uid not in (0, st.st_uid):
        problems.append("it belongs to uid %d, not to this user (%d)" % (st.st_uid, uid))
    elif not os.access(root, os.W_OK):
        problems.append("it is not writable")
    if problems:
        return Check("state", FAIL, "%s: %s" % (root, "; ".join(problems)),
                     "chown edge-runtime:edge-runtime %s && chmod 0750 %s" % (root, root))
    return Check("state", OK, "%s (mode %04o)" % (root, mode))


def check_socket(socket_path: str) -> Check:
    try:
        st = os.stat(socket_path)
    except FileNotFoundError:
        return Check("socket", WARN, "no daemon socket at %s" % socket_path,
                     "start the daemon: systemctl start edge-runtime (or edge-runtime serve)")
    except OSError as exc:
        return Check("socket", FAIL, "cannot read %s: %s" % (socket_path, exc.strerror),
                     "add your user to the edge-runtime group: sudo usermod -aG edge-runtime $USER")
    if not stat.S_ISSOCK(st.st_mode):
        return Check("socket", FAIL, "%s is not a socket" % socket_path, "remove it and restart the daemon")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o007:
        return Check("socket", FAIL, "%s is open to every user (mode %04o)" % (socket_path, mode),
                     "chmod 0660 %s, and restart the daemon (it creates the socket 0660)" % socket_path)
    return Check("socket", OK, "%s (mode %04o)" % (socket_path, mode))


def check_disk(root: str) -> Check:
    path = root
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    usage = shutil.disk_usage(path)
    free_mb = usage.free / 1e6
    text = "%.0f MB free on the store's file system (%s)" % (free_mb, path)
    if free_mb < MIN_FREE_FAIL_MB:
        return Check("disk", FAIL, text, "free space: remove old model versions (edgectl ... versions) or logs")
    if free_mb < MIN_FREE_WARN_MB:
        return Check("disk", WARN, text, "deploys of large engines may not fit; free some space")
    return Check("disk", OK, text)


def check_tensorrt(importer: Callable[[str], object] = __import__) -> Check:
    try:
        module = importer("tensorrt")
    except ImportError:
        return Check("tensorrt", WARN, "TensorRT's Python bindings are not importable; engines cannot be built here",
                     "on a Jetson install JetPack's python3-libnvinfer and keep the runtime's venv "
                     "with system site packages")
    except Exception as exc:  # a broken install raises all sorts (missing libnvinfer.so, ...)
        return Check("tensorrt", FAIL, "importing tensorrt failed: %s" % exc,
                     "reinstall TensorRT (JetPack: sudo apt install --reinstall python3-libnvinfer)")
    return Check("tensorrt", OK, "TensorRT %s" % getattr(module, "__version__", "?"))


def check_gpu(dev_root: str = "/dev", gpu_count: Optional[int] = None) -> Check:
    """A dGPU via NVML's count (when known), or a Jetson's GPU device nodes."""
    if gpu_count:
        return Check("gpu", OK, "%d NVIDIA GPU(s) visible through NVML" % gpu_count)
    nodes = glob.glob(os.path.join(dev_root, "nvhost-gpu")) + glob.glob(os.path.join(dev_root, "nvgpu", "igpu0"))
    nodes += glob.glob(os.path.join(dev_root, "nvidia[0-9]*"))
    if not nodes:
        return Check("gpu", WARN, "no NVIDIA GPU found", "jobs run on the CPU with ONNX Runtime; check the driver")
    unreadable = [n for n in nodes if not os.access(n, os.R_OK | os.W_OK)]
    if unreadable:
        return Check("gpu", FAIL, "GPU device nodes are not accessible: %s" % ", ".join(unreadable),
                     "add the runtime's user to the video group: sudo usermod -aG video edge-runtime")
    return Check("gpu", OK, "GPU device nodes: %s" % ", ".join(sorted(nodes)))


def check_service(runner: Callable[[List[str]], subprocess.CompletedProcess[str]], systemd_dir: str) -> Check:
    if not os.path.isdir(systemd_dir):
        return Check("service", WARN, "systemd is not running here; the daemon is started by the console's bridge")
    result = runner(["systemctl", "is-active", "edge-runtime.service"])
    state = (result.stdout or "").strip() or "unknown"
    if state == "active":
        return Check("service", OK, "edge-runtime.service is active")
    return Check("service", FAIL, "edge-runtime.service is %s" % state,
                 "sudo systemctl enable --now edge-runtime; see journalctl -u edge-runtime")


JTOP_SOCKET = "jtop.sock"
SERVICE_USER = "edge-runtime"


def _group_members(etc_root: str, group: str) -> Optional[List[str]]:
    """Members of ``group`` in ``<etc_root>/group`` plus the users whose primary group it is;
    None when there is no such group."""
    try:
        with open(os.path.join(etc_root, "group")) as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split(":")
        if len(fields) >= 4 and fields[0] == group:
            members = [m for m in fields[3].split(",") if m]
            try:
                with open(os.path.join(etc_root, "passwd")) as handle:
                    for entry in handle.read().splitlines():
                        parts = entry.split(":")
                        if len(parts) >= 4 and parts[3] == fields[2]:
                            members.append(parts[0])
            except OSError:
                pass
            return members
    return None


def _user_exists(etc_root: str, user: str) -> bool:
    try:
        with open(os.path.join(etc_root, "passwd")) as handle:
            return any(line.split(":", 1)[0] == user for line in handle.read().splitlines())
    except OSError:
        return False


def check_jtop(etc_root: str = "/etc", run_root: str = "/run", jtop_installed: bool = False) -> Check:
    """jetson-stats is optional; when it is here, the daemon must be able to reach its socket
    (root:jtop 0660), or the jtop collector only ever reports it unavailable."""
    socket_path = os.path.join(run_root, JTOP_SOCKET)
    members = _group_members(etc_root, "jtop")
    has_socket = os.path.exists(socket_path)
    if not (jtop_installed or has_socket or members is not None):
        return Check("jtop", OK, "jetson-stats (jtop) is not installed (optional: the sysfs collector reads the same)")
    if members is not None and _user_exists(etc_root, SERVICE_USER) and SERVICE_USER not in members:
        return Check("jtop", WARN, "jtop is installed but the %s user is not in the jtop group, so the daemon cannot "
                     "reach %s (root:jtop 0660)" % (SERVICE_USER, socket_path),
                     "sudo usermod -aG jtop %s && sudo systemctl restart edge-runtime" % SERVICE_USER)
    if not has_socket:
        return Check("jtop", WARN, "jetson-stats is installed but its service is not running (no %s)" % socket_path,
                     "sudo systemctl enable --now jtop.service")
    if not os.access(socket_path, os.R_OK | os.W_OK):
        return Check("jtop", WARN, "this user cannot reach %s (root:jtop 0660)" % socket_path,
                     "sudo usermod -aG jtop $USER, then log in again")
    return Check("jtop", OK, "jtop service reachable at %s" % socket_path)


def _run(argv: List[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)


# -- SSH hardening ------------------------------------------------------------------------------


def read_sshd_config(etc_root: str = "/etc") -> Dict[str, List[str]]:
    """sshd's effective first-wins settings from sshd_config and its Include'd files (lower-cased
    keys; Match blocks ignored: their settings only apply to some connections)."""
    settings: Dict[str, List[str]] = {}

    def read(path: str, depth: int) -> None:
        try:
            with open(path) as handle:
                lines = handle.read().splitlines()
        except OSError:
            return
        for raw in lines:
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split(None, 1)
            key = parts[0].lower()
            value = parts[1].strip() if len(parts) > 1 else ""
            if key == "match":
                return  # everything after a Match line belongs to that block
            if key == "include" and depth < 8:
                for pattern in value.split():
                    full = pattern if pattern.startswith("/") else os.path.join(etc_root, "ssh", pattern)
                    if pattern.startswith("/etc/"):
                        full = os.path.join(etc_root, pattern[len("/etc/"):])
                    for included in sorted(glob.glob(full)):
                        read(included, depth + 1)
                continue
            settings.setdefault(key, value.split())

    read(os.path.join(etc_root, "ssh", "sshd_config"), 0)
    return settings


def check_ssh(etc_root: str = "/etc") -> List[Check]:
    path = os.path.join(etc_root, "ssh", "sshd_config")
    if not os.path.exists(path):
        return [Check("ssh", WARN, "no %s: the console reaches this device over SSH" % path,
                      "install and enable openssh-server")]
    cfg = read_sshd_config(etc_root)
    checks = []
    logins_by_password = (cfg.get("passwordauthentication") or ["yes"])[0].lower() == "yes"
    if logins_by_password:
        checks.append(Check("ssh-password", WARN, "password login is allowed",
                            "after installing your key (the console offers it), set PasswordAuthentication no"))
    else:
        checks.append(Check("ssh-password", OK, "password login is off"))
    root = (cfg.get("permitrootlogin") or ["prohibit-password"])[0].lower()
    if root == "yes":
        checks.append(Check("ssh-root", FAIL, "root may log in with a password",
                            "set PermitRootLogin no (or prohibit-password) in %s" % path))
    else:
        checks.append(Check("ssh-root", OK, "root login: %s" % root))
    users = cfg.get("allowusers")
    groups = cfg.get("allowgroups")
    if users or groups:
        who = []
        if users:
            who.append("users " + " ".join(users))
        if groups:
            who.append("groups " + " ".join(groups))
        checks.append(Check("ssh-users", OK, "only %s may log in" % " and ".join(who)))
    else:
        checks.append(Check("ssh-users", WARN, "every local account may log in over SSH",
                            "list the operators: AllowUsers or AllowGroups in %s" % path))
    return checks


def run_checks(root: str, socket_path: str, etc_root: str = "/etc", dev_root: str = "/dev",
               gpu_count: Optional[int] = None, systemd_dir: str = "/run/systemd/system",
               runner: Callable[[List[str]], subprocess.CompletedProcess[str]] = _run,
               run_root: str = "/run") -> List[Check]:
    import importlib.util

    jtop_installed = importlib.util.find_spec("jtop") is not None
    checks = [check_python(), check_state_dir(root), check_socket(socket_path), check_disk(root),
              check_tensorrt(), check_gpu(dev_root, gpu_count), check_service(runner, systemd_dir),
              check_jtop(etc_root, run_root, jtop_installed)]
    checks.extend(check_ssh(etc_root))
    return checks
