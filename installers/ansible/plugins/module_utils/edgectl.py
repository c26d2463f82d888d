"""Runs ``edgectl`` for the collection's modules: one device, JSON out, edgectl's own words on failure.

The modules run on the controller (the laptop that holds edgectl and its device registry) and name
the robot with ``device``; every call is ``edgectl --device DEVICE COMMAND ... --json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

# Options every module takes; the playbook usually sets ``device`` once through module_defaults.
COMMON_ARGS: dict[str, Any] = {
    "device": {"type": "str", "required": True},
    "edgectl": {"type": "path"},
}

# Options of the modules that activate a version (documented once, in doc_fragments/activation.py).
ACTIVATION_ARGS: dict[str, Any] = {
    "why": {"type": "str", "default": ""},
    "force": {"type": "bool", "default": False},
    "wait": {"type": "float"},
}


def activation_argv(params: dict[str, Any]) -> list[str]:
    """edgectl's flags for :data:`ACTIVATION_ARGS` (deploy and rollback spell them alike)."""
    argv = ["--why", params["why"]] if params["why"] else []
    argv += ["--force"] if params["force"] else []
    argv += ["--wait", "%g" % params["wait"]] if params["wait"] is not None else []
    return argv

# What to do after a deploy or rollback the device refused or undid, by the device's error code (as
# ``edgectl fleet`` says it): the action's own message says what happened.
TODO = {
    "health_failed": "Run edgectl --device {device} health: it shows each check and how to fix it.",
    "not_found": "edgectl --device {device} versions MODEL lists what it holds.",
    "downgrade_needs_intent": "To go back on purpose, set allow_downgrade: true (or roll back with edge_rollback).",
    "load_failed": "Check the model with edgectl validate MODEL.onnx; the previous version stays active.",
}


def edgectl_message(stderr: str, stdout: str, rc: int) -> str:
    """What edgectl said went wrong and what to do, without its ``edgectl:`` prefix or a Python warning."""
    lines = [line.rstrip() for line in stderr.splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.startswith("edgectl: ")), None)
    if start is not None:
        said = [line[len("edgectl: "):] if line.startswith("edgectl: ") else line.strip() for line in lines[start:]]
        return " ".join(said)
    if lines:
        return " ".join(line.strip() for line in lines[-3:])
    if stdout.strip():
        return stdout.strip().splitlines()[-1]
    return "edgectl exited with status %d and said nothing; run the same command by hand to see why" % rc


def last_json(stdout: str) -> Any:
    """The last JSON document edgectl printed (``install --json`` prints one per line, the result last)."""
    for line in reversed(stdout.splitlines()):
        if line.strip().startswith(("{", "[")):
            return json.loads(line)
    raise ValueError("no JSON line in edgectl's output")


class Edgectl:
    """One module's edgectl: finds it, runs it for the module's device, fails the module with its message."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self.device: str = module.params["device"]
        self.path = self._find(module.params.get("edgectl"))
        self.commands: list[list[str]] = []

    def _find(self, given: str | None) -> str:
        if given:
            if not (os.path.isfile(given) and os.access(given, os.X_OK)):
                self.module.fail_json(msg="edgectl: %s is not an executable file; set edgectl to the path of the "
                                          "console's edgectl (which edgectl prints it)" % given)
            return given
        found = self.module.get_bin_path("edgectl", opt_dirs=[os.path.dirname(sys.executable)])
        if not found:
            self.module.fail_json(msg="edgectl was not found on this controller's PATH nor beside %s; install the "
                                      "console there (pip install 'edge-operator-console[console]'), set "
                                      "ansible_python_interpreter to the Python that has it, or set edgectl to its "
                                      "path" % sys.executable)
        return str(found)

    def run(self, *args: str, device: bool = True) -> tuple[int, str, str]:
        argv = [self.path, *(["--device", self.device] if device else []), *args]
        self.commands.append(argv)
        rc, out, err = self.module.run_command(argv)
        return int(rc), str(out), str(err)

    def fail(self, rc: int, out: str, err: str, **extra: Any) -> None:
        self.module.fail_json(msg=edgectl_message(err, out, rc), rc=rc, stdout=out, stderr=err,
                              cmd=self.commands[-1] if self.commands else [], **extra)

    def json(self, *args: str, device: bool = True, ok_codes: tuple[int, ...] = (0,)) -> Any:
        """Run and parse the JSON edgectl printed; any other exit status fails the module with edgectl's message."""
        rc, out, err = self.run(*args, device=device)
        if rc not in ok_codes:
            self.fail(rc, out, err)
        try:
            return last_json(out)
        except ValueError:
            self.module.fail_json(msg="edgectl %s printed no JSON (exit status %d); this edgectl may be older than "
                                      "the collection: update the console" % (" ".join(args), rc),
                                  rc=rc, stdout=out, stderr=err, cmd=self.commands[-1])
        raise AssertionError("fail_json returned")  # pragma: no cover

    def action(self, *args: str, **extra: Any) -> dict[str, Any]:
        """A deploy or rollback with ``--json``: the device's final action, or a failure with the device's words.

        edgectl prints the action as JSON whether it succeeded or not; a refusal before it began (an
        unknown model, a downgrade not allowed, an unreachable device) comes on stderr instead.
        """
        rc, out, err = self.run(*args)
        try:
            action: dict[str, Any] = last_json(out)
        except ValueError:
            action = {}
        if rc == 0 and action:
            return action
        if action.get("message"):
            notes = [str(note).rstrip(".") + "." for note in action.get("notes") or []]
            todo = TODO.get(str(action.get("code")), "").format(device=self.device)
            said = [str(action["message"]).rstrip(".") + ".", *notes, *([todo] if todo else [])]
            msg = "%s: %s" % (self.device, " ".join(said))
            self.module.fail_json(msg=msg, rc=rc, stdout=out, stderr=err, cmd=self.commands[-1], action=action,
                                  **extra)
        self.fail(rc, out, err, **extra)
        raise AssertionError("fail_json returned")  # pragma: no cover

    def json_all(self, *calls: tuple[tuple[str, ...], bool]) -> list[Any]:
        """Several read-only commands at once (each ``(args, for_the_device)``), their JSON in order: each
        edgectl start costs its import and each device call its connection, which add up over a fleet."""
        argvs = [[self.path, *(["--device", self.device] if device else []), *args] for args, device in calls]
        procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                  text=True) for argv in argvs]
        outputs = [proc.communicate() for proc in procs]
        results = []
        for argv, proc, (out, err) in zip(argvs, procs, outputs, strict=True):
            self.commands.append(argv)
            if proc.returncode != 0:
                self.fail(proc.returncode, out, err)
            try:
                results.append(last_json(out))
            except ValueError:
                self.module.fail_json(msg="%s printed no JSON; this edgectl may be older than the collection: update "
                                          "the console" % " ".join(argv[1:]), stdout=out, stderr=err, cmd=argv)
        return results

    def version(self) -> str:
        """This console's version (what a runtime install puts on a device)."""
        rc, out, err = self.run("--version", device=False)
        if rc != 0:
            self.fail(rc, out, err)
        return out.split()[-1]

    def versions(self, model: str) -> dict[str, Any]:
        """The model's versions on the device: ``active``, ``previous`` and each stored one."""
        result: dict[str, Any] = self.json("versions", model, "--json")
        return result
