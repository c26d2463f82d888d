"""The device's restart and health hooks: commands run with a timeout, judged by exit status."""

from __future__ import annotations

import os
import subprocess
from typing import Dict, List, Optional, Tuple


def run_hook(command: List[str], env: Dict[str, str], timeout_s: float, cwd: Optional[str] = None) -> Tuple[bool, str]:
    """(ok, detail): ok when the command exits 0 within ``timeout_s``; detail holds its last output."""
    if not command:
        return True, "no hook configured"
    full_env = dict(os.environ)
    full_env.update(env)
    try:
        proc = subprocess.run(command, env=full_env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return False, "%s did not finish within %.0f s" % (command[0], timeout_s)
    except OSError as exc:
        return False, "%s could not be started: %s" % (command[0], exc.strerror or exc)
    tail = proc.stdout.decode("utf-8", "replace").strip().splitlines()[-5:]
    text = " | ".join(tail)
    if proc.returncode != 0:
        return False, "%s exited with status %d%s" % (command[0], proc.returncode, (": " + text) if text else "")
    return True, text
