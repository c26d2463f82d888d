"""The built-in device's daemon outlives the console window (jobs and the probe go on); this stops it
on request, the same way ``edge-runtime stop --socket ...`` does."""

from __future__ import annotations

import subprocess

from console.core.env import ConsoleEnv


class LocalRuntimeError(Exception):
    """The daemon could not be stopped; the message is the runtime's own words."""


def stop_command(env: ConsoleEnv) -> list[str]:
    return [env.python, "-m", "device_runtime", "stop", "--socket", str(env.local_socket)]


def stop_local_runtime(env: ConsoleEnv, timeout_s: float = 60.0) -> str:
    """Stop this computer's runtime daemon; returns what it said. Nothing running is not an error."""
    try:
        proc = subprocess.run(stop_command(env), capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LocalRuntimeError("the stop command did not run: %s" % exc) from exc
    said = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0 and "no daemon is serving" not in said:
        raise LocalRuntimeError(said or "the stop command ended with status %d" % proc.returncode)
    return said.replace("edge-runtime: ", "")
