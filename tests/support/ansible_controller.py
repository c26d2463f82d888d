"""An Ansible controller on this machine for the collection's tests.

The robots are the simulated lab's (tests/support/netlab.py): each a real sshd in its own network
namespace, with its own address, user, daemon and store. The controller registers them in its own
registry (as a user would with ``edgectl devices add`` and ``devices trust``), so the playbooks reach
them over SSH through edgectl. The collection is built with ``ansible-galaxy collection build`` and
installed into a temp collections path; playbooks run with ``ansible-playbook`` from this venv, whose
Python (the modules' interpreter) has edgectl beside it. The console's registry, keys and rollout
records live in temp XDG dirs that the playbook's edgectl calls and the test's own in-process edgectl
share.

Each run's events come from ansible's default output with one-line JSON results (``-v``,
``callback_result_format = json``), parsed per task and host, and from its PLAY RECAP.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.cli.main import main as edgectl_main
from console.core.env import ConsoleEnv
from tests.support.netlab import Robot

REPO = Path(__file__).resolve().parents[2]
COLLECTION = REPO / "installers" / "ansible"
BIN = Path(sys.executable).parent
PLAYBOOK_TIMEOUT_S = 300

_PLAY = re.compile(r"^PLAY \[(.*)\] \*+$")
_TASK = re.compile(r"^TASK \[(.*)\] \*+$")
_RESULT = re.compile(r"^(ok|changed|fatal|skipping|failed): \[([^\]]+)\](?:: FAILED!)? => (\{.*\})$")
_RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)")


def ansible_tool(name: str) -> str:
    return str(BIN / name)


def install_collection(work: Path) -> Path:
    """Build the collection's tarball and install it into ``work/collections``, as a user would."""
    dist = work / "dist"
    environ = {"PATH": "%s:/usr/bin:/bin" % BIN, "HOME": str(work), "ANSIBLE_LOCAL_TEMP": str(work / "tmp")}
    subprocess.run([ansible_tool("ansible-galaxy"), "collection", "build", str(COLLECTION), "--output-path",
                    str(dist)], check=True, capture_output=True, text=True, env=environ, cwd=work, timeout=120)
    (tarball,) = dist.glob("edge_operator-console-*.tar.gz")
    collections = work / "collections"
    subprocess.run([ansible_tool("ansible-galaxy"), "collection", "install", "--offline", str(tarball), "-p",
                    str(collections)], check=True, capture_output=True, text=True, env=environ, cwd=work, timeout=120)
    assert (collections / "ansible_collections" / "edge_operator" / "console" / "MANIFEST.json").is_file()
    return collections


@dataclass
class Event:
    batch: int  # which PLAY header it came under (a serial play prints one per batch), from 0
    task: str
    host: str
    status: str  # ok, changed, fatal, skipping, failed
    result: dict[str, Any]


@dataclass
class PlayRun:
    rc: int
    output: str
    seconds: float = 0.0
    events: list[Event] = field(default_factory=list)
    recap: dict[str, dict[str, int]] = field(default_factory=dict)

    def results(self, task: str) -> dict[str, Event]:
        """The task's last event per host."""
        return {e.host: e for e in self.events if e.task == task}

    def batches(self, task: str) -> list[list[str]]:
        """The hosts the task ran on in each batch, in order."""
        seen: dict[int, list[str]] = {}
        for e in self.events:
            if e.task == task:
                seen.setdefault(e.batch, []).append(e.host)
        return [sorted(hosts) for _, hosts in sorted(seen.items())]

    def changed(self) -> dict[str, int]:
        return {host: counts["changed"] for host, counts in self.recap.items()}

    def failed(self) -> dict[str, int]:
        return {host: counts["failed"] for host, counts in self.recap.items()}


def parse_run(rc: int, output: str) -> PlayRun:
    run = PlayRun(rc, output)
    batch, task = -1, ""
    for line in output.splitlines():
        if _PLAY.match(line):
            batch += 1
        elif found := _TASK.match(line):
            task = found.group(1)
        elif found := _RESULT.match(line):
            run.events.append(Event(batch, task, found.group(2), found.group(1), json.loads(found.group(3))))
        elif found := _RECAP.match(line):
            keys = ("ok", "changed", "unreachable", "failed", "skipped")
            run.recap[found.group(1)] = dict(zip(keys, (int(x) for x in found.groups()[1:]), strict=True))
    return run


class Controller:
    """The laptop: edgectl's registry in temp dirs, the installed collection, an inventory of robots."""

    def __init__(self, work: Path, home: Path, collections: Path) -> None:
        self.work = work
        (work / "run").mkdir(mode=0o700, parents=True, exist_ok=True)
        self.environ = {
            "PATH": "%s:/usr/bin:/bin" % BIN,
            "HOME": str(home),
            "USER": os.environ.get("USER") or "root",
            "XDG_CONFIG_HOME": str(work / "config"),
            "XDG_DATA_HOME": str(work / "data"),
            "XDG_RUNTIME_DIR": str(work / "run"),
            "ANSIBLE_COLLECTIONS_PATH": str(collections),
            "ANSIBLE_LOCAL_TEMP": str(work / "ansible-tmp"),
            "ANSIBLE_REMOTE_TEMP": str(work / "ansible-tmp"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
            "ANSIBLE_CALLBACK_FORMAT_PRETTY": "false",
            "ANSIBLE_RETRY_FILES_ENABLED": "false",
            "ANSIBLE_DEPRECATION_WARNINGS": "false",
        }
        self.env = ConsoleEnv.from_os(self.environ)
        self.inventory = work / "inventory.yml"

    def edgectl(self, *argv: str) -> tuple[int, str, str]:
        """edgectl in this process, on the same registry as the playbooks' edgectl."""
        out, err = io.StringIO(), io.StringIO()
        self.env.stdout, self.env.stderr = out, err
        code = edgectl_main(list(argv), self.env)
        return code, out.getvalue(), err.getvalue()

    def ok(self, *argv: str) -> str:
        code, out, err = self.edgectl(*argv)
        assert code == 0, (argv, out, err)
        return out

    def register(self, robot: Robot, key: Path, runtime: str | None = None, tags: tuple[str, ...] = ()) -> None:
        """Register a lab robot under its own name (its address, user and the lab's key) and trust its host key."""
        self.ok("devices", "add", robot.name, "--host", robot.address, "--port", str(robot.server.port), "--user",
                robot.user, "--key", str(key), *(["--runtime", runtime] if runtime else []),
                *(arg for tag in tags for arg in ("--tag", tag)))
        self.ok("devices", "trust", robot.name, "--fingerprint", robot.server.host_fingerprint)

    def write_inventory(self, hosts: list[str]) -> None:
        inventory = {"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                             "children": {"robots": {"hosts": {host: {} for host in hosts}}}}}
        self.inventory.write_text(json.dumps(inventory, indent=2))  # YAML reads JSON

    def playbook(self, playbook: str, *args: str) -> PlayRun:
        """``ansible-playbook`` of one of the collection's playbooks (by its FQCN) on the inventory."""
        started = time.monotonic()
        proc = subprocess.run([ansible_tool("ansible-playbook"), "-v", "-i", str(self.inventory), playbook, *args],
                              env=self.environ, cwd=self.work, capture_output=True, text=True,
                              timeout=PLAYBOOK_TIMEOUT_S, check=False)
        run = parse_run(proc.returncode, proc.stdout + proc.stderr)
        run.seconds = time.monotonic() - started
        print("ansible-playbook %s: %.1f s" % (" ".join((playbook, *args)), run.seconds))
        return run

    def active(self, model: str, devices: list[str]) -> dict[str, str | None]:
        """Each device's active version of ``model``, from its own store."""
        return {d: json.loads(self.ok("--device", d, "versions", model, "--json"))["active"] for d in devices}

    def stored(self, model: str, device: str) -> set[str]:
        return {v["version"] for v in json.loads(self.ok("--device", device, "versions", model, "--json"))["versions"]}
