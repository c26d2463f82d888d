"""``python -m device_runtime.store.child import --root R --package P``: an import in its own process.

Signature checks (``cryptography``), decompression and hashing stay out of the daemon's memory.
Output is one JSON object a line: ``{"progress": f, "stage": s}`` while it runs, then
``{"result": {...}}`` or ``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List

from device_runtime.store.compat import StoreFacts
from device_runtime.store.errors import Code, StoreError
from device_runtime.store.store import Store


def _emit(data: Dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="device_runtime.store.child")
    parser.add_argument("command", choices=["import"])
    parser.add_argument("--root", required=True)
    parser.add_argument("--package", required=True)
    parser.add_argument("--facts", default="{}")
    parser.add_argument("--policy", required=True)
    parser.add_argument("--who", default="")
    parser.add_argument("--why", default="")
    args = parser.parse_args(argv)
    try:
        store = Store(args.root, StoreFacts(**json.loads(args.facts)), default_policy=args.policy)
        outcome = store.import_package(args.package, args.who, args.why,
                                       lambda f, stage: _emit({"progress": f, "stage": stage}))
    except StoreError as exc:
        _emit({"error": {"code": exc.code, "message": exc.message}})
        return 1
    except Exception as exc:
        _emit({"error": {"code": Code.IO, "message": "%s: %s" % (type(exc).__name__, exc)}})
        return 1
    _emit({"result": {"name": outcome.manifest.name, "version": outcome.manifest.version, "signer": outcome.signer,
                      "already": outcome.already}})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
