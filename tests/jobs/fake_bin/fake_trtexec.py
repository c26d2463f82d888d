"""Replays a recorded trtexec log line by line and writes --saveEngine / --exportTimes files.

FAKE_TRTEXEC_LOG names the fixture to replay (default: the TensorRT 10.16 H100 build log);
the exit code is 1 when the log ends in ``&&&& FAILED``, as with the real tool.
"""

import os
import shutil
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "trtexec"


def main() -> int:
    log = FIXTURES / os.environ.get("FAKE_TRTEXEC_LOG", "trt101601_h100_build.log")
    options = dict(arg[2:].split("=", 1) for arg in sys.argv[1:] if arg.startswith("--") and "=" in arg)
    text = log.read_text()
    for line in text.splitlines():
        print(line, flush=True)
    failed = "&&&& FAILED" in text
    if "saveEngine" in options and not failed:
        Path(options["saveEngine"]).write_bytes(b"FAKE-ENGINE " + log.name.encode())
    if "exportTimes" in options and not failed:
        shutil.copy(FIXTURES / "export_times_generated.json", options["exportTimes"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
