"""``python -m device_runtime.store.child import --root R --package P``: an import in its own process.

Signature checks (``cryptography``), decompression and hashing stay out of the daemon's memory.
Output is one JSON object a line: ``{"progress": f, "stage": s}`` while it runs, then
``{"result": {...}}`` or ``{"error": {"code": ..., "message": ...}}``.

``receive --part P --sha256 S --size N`` unpacks an upload while it arrives and waits for the
daemon's ``commit`` on stdin (see :mod:`device_runtime.store.receive`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List

from device_runtime.package_format.errors import StoreError, as_store_error
from device_runtime.store.compat import StoreFacts
from device_runtime.store.receive import open_commands, receive
from device_runtime.store.store import Store

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
KEEP_HEAP_BYTES = 64 << 20


def keep_heap() -> None:
    """Let glibc's malloc reuse freed megabyte blocks instead of mapping fresh pages for each.

    Unpacking allocates a handful of 1 MB buffers per MB of package (read, inflate, the tar
    layer's joins); served by mmap each one costs 256 page faults, which made the unpack twice
    as slow. This short-lived process may keep up to 64 MB of freed heap instead. Elsewhere
    (another libc) it does nothing."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt(M_MMAP_THRESHOLD, KEEP_HEAP_BYTES)
    mallopt(M_TRIM_THRESHOLD, 2 * KEEP_HEAP_BYTES)


def give_heap_back() -> None:
    """Return the freed heap to the system before waiting idle (see :func:`keep_heap`)."""
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        return


def _emit(data: Dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="device_runtime.store.child")
    parser.add_argument("command", choices=["import", "receive"])
    parser.add_argument("--root", required=True)
    parser.add_argument("--package", default="")
    parser.add_argument("--part", default="")
    parser.add_argument("--sha256", default="")
    parser.add_argument("--size", type=int, default=0)
    parser.add_argument("--facts", default="{}")
    parser.add_argument("--policy", required=True)
    parser.add_argument("--who", default="")
    parser.add_argument("--why", default="")
    args = parser.parse_args(argv)
    keep_heap()
    if args.command == "receive":
        store = Store(args.root, StoreFacts(**json.loads(args.facts)), default_policy=args.policy)
        code = receive(store, args.part, args.sha256, args.size, _emit, open_commands(), idle=give_heap_back)
        # Everything it wrote is fsync'd and reported: skip tearing down an interpreter that holds
        # a loaded model (a tenth of a second of CPU the next deploy may want).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    try:
        store = Store(args.root, StoreFacts(**json.loads(args.facts)), default_policy=args.policy)
        outcome = store.import_package(args.package, args.who, args.why,
                                       lambda f, stage: _emit({"progress": f, "stage": stage}))
    except StoreError as exc:
        _emit({"error": {"code": exc.code, "message": exc.message}})
        return 1
    except Exception as exc:
        failure = as_store_error(exc, "the import stopped", args.root)
        _emit({"error": {"code": failure.code, "message": failure.message}})
        return 1
    _emit({"result": {"name": outcome.manifest.name, "version": outcome.manifest.version, "signer": outcome.signer,
                      "already": outcome.already}})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
