"""How this installation runs ``python -m <module>`` in a child process.

Normally that is this interpreter. Inside the console's frozen bundle there is no ``python``:
the bundle ships a small ``edge-python`` executable beside the console that runs ``-m MODULE``
with the bundled modules, so the local device's daemon, the demo-model build and job workers
start the same way in both.
"""

from __future__ import annotations

import os
import sys
from typing import List

FROZEN_PYTHON = "edge-python"


def python_command() -> List[str]:
    """The argv prefix that stands for ``python`` here; append ``-m module ...``."""
    if getattr(sys, "frozen", False):
        return [os.path.join(os.path.dirname(sys.executable), FROZEN_PYTHON)]
    return [sys.executable]
