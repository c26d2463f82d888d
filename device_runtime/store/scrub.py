"""The start-up scrub: re-hash every retained version in the background and flag silent damage.

A flagged version is never activated (activation refuses versions in ``state.corrupt``). The
active version is flagged too but left in place: swapping on our own would surprise the robot;
the operator sees it in the version list and decides.
"""

from __future__ import annotations

import threading
from typing import Callable, List, Tuple

from device_runtime.package_format.errors import StoreError
from device_runtime.store.store import Store
from device_runtime.store.verify import hash_problems, read_manifest

Found = Tuple[str, str, str]


def scrub(store: Store, stop: threading.Event, on_found: Callable[[str, str, str], None] = lambda *_: None
          ) -> List[Found]:
    found: List[Found] = []
    for name in store.model_names():
        state = store.state(name)
        for version in store.stored_versions(name):
            if stop.is_set():
                return found
            if version in state.corrupt:
                continue
            directory = store.version_dir(name, version)
            try:
                manifest = read_manifest(directory)
                problems = hash_problems(directory, manifest, stop.is_set)
            except (OSError, StoreError) as exc:
                problems = ["the manifest cannot be read (%s)" % getattr(exc, "message", exc)]
            if stop.is_set():
                return found
            if not problems:
                store.verified.mark(name, version, directory, manifest)
                continue
            reason = "; ".join(problems)
            with store.lock:
                fresh = store.state(name)
                fresh.corrupt[version] = reason
                store.save_state(fresh)
            store.verified.forget(name, version)
            found.append((name, version, reason))
            on_found(name, version, reason)
    return found
