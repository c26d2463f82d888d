"""Find and run ``trtexec`` from a worker, one output line at a time.

trtexec runs in the worker's process group, so cancelling the job ends it too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Callable, List, Mapping

from device_runtime.jobs.kinds.base import JobFailed

# Where JetPack and the TensorRT tarballs put it when it is not on PATH.
KNOWN_PLACES = ("/usr/src/tensorrt/bin/trtexec", "/usr/local/tensorrt/bin/trtexec", "/opt/tensorrt/bin/trtexec")


def find_trtexec(env: Mapping[str, str]) -> str:
    found = shutil.which("trtexec", path=env.get("PATH"))
    if found:
        return found
    for place in KNOWN_PLACES:
        if os.access(place, os.X_OK):
            return place
    raise JobFailed("trtexec was not found on PATH or in %s: install the TensorRT samples "
                    "(JetPack: /usr/src/tensorrt/bin) or use the api route" % ", ".join(KNOWN_PLACES))


def run_streaming(argv: List[str], on_line: Callable[[str], None], env: Mapping[str, str]) -> int:
    """Run ``argv``, calling ``on_line`` for each line of its output; returns the exit code."""
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(env),
    )
    assert proc.stdout is not None
    try:
        for raw in proc.stdout:
            on_line(raw.decode("utf-8", "replace").rstrip("\n"))
    finally:
        proc.stdout.close()
        code = proc.wait()
    return code
