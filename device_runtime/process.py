"""How this installation runs ``python -m <module>`` in a child process, and how such a child is ended.

Normally that is this interpreter. Inside the console's frozen bundle there is no ``python``:
the bundle ships a small ``edge-python`` executable beside the console that runs ``-m MODULE``
with the bundled modules, so the local device's daemon, the demo-model build and job workers
start the same way in both.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import IO, Any, List, Optional

FROZEN_PYTHON = "edge-python"


def python_command() -> List[str]:
    """The argv prefix that stands for ``python`` here; append ``-m module ...``."""
    if getattr(sys, "frozen", False):
        return [os.path.join(os.path.dirname(sys.executable), FROZEN_PYTHON)]
    return [sys.executable]


def hang_up(proc: subprocess.Popen[Any], wait_s: float, *pipes: Optional[IO[Any]]) -> None:
    """End a child that exits at the end of its input: close ``pipes`` (its stdin, and any other
    pipe of ours to it), wait up to ``wait_s`` for it to exit, and kill it if it has not."""
    for pipe in pipes:
        if pipe is not None and not pipe.closed:
            try:
                pipe.close()
            except OSError:
                pass
    try:
        proc.wait(timeout=wait_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
