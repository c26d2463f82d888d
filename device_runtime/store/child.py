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

from device_runtime.heap import give_heap_back, keep_heap
from device_runtime.package_format.errors import StoreError, as_store_error
from device_runtime.store.compat import StoreFacts
from device_runtime.store.receive import open_commands, receive
from device_runtime.store.store import Store


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
