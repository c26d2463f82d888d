"""Replays a recorded trtexec log line by line and writes --saveEngine / --exportTimes files.

FAKE_TRTEXEC_LOG names the fixture to replay (default: the TensorRT 10.16 H100 build log);
the exit code is 1 when the log ends in ``&&&& FAILED``, as with the real tool. Like the real
trtexec it stops on an option its version does not parse (the TensorRT version of
FAKE_TENSORRT_VERSION; option lists in tests/engines/trtexec_flags).
"""

import os
import shutil
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "trtexec"


def _unknown_options(argv: list) -> list:
    from tests.support.trt_record import record_for

    flags = Path(__file__).resolve().parents[2] / "engines" / "trtexec_flags"
    record = record_for(os.environ.get("FAKE_TENSORRT_VERSION", "10.3.0"))
    known = set((flags / ("%s.txt" % record)).read_text().split())
    return [arg for arg in argv if arg.split("=", 1)[0] not in known]


def main() -> int:
    unknown = _unknown_options(sys.argv[1:])
    if unknown:
        print("[E] Unknown option: %s" % unknown[0], flush=True)
        print("&&&& FAILED TensorRT.trtexec # trtexec %s" % " ".join(sys.argv[1:]), flush=True)
        return 1
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
