"""``store.df``: the store's share of its disk, and what incoming/ holds (with size and age),
so an operator can see what a full disk is made of and take out an upload nobody needs."""

from __future__ import annotations

import os
from typing import List

from device_runtime import fileio
from device_runtime.package_format.errors import Code
from device_runtime.protocol import StoreModelUsage, StoreUsage
from device_runtime.store.config import reserve_bytes
from device_runtime.store.store import Store
from device_runtime.store.upload import Incoming

# Refusals that no later setting can change: the bytes themselves are wrong, so the received
# package is removed from incoming/ at once. An unsigned or untrusted one stays (listed by
# ``edgectl df``) until its key is trusted and it is imported again, or it ages out.
PERMANENT_REFUSALS = frozenset({
    Code.BAD_PACKAGE, Code.BAD_MANIFEST, Code.BAD_SIGNATURE, Code.HASH_MISMATCH, Code.VERSION_CONFLICT,
    Code.BELOW_FLOOR, Code.INCOMPATIBLE_ENGINE,
})


def tree_bytes(path: str) -> int:
    total = 0
    for directory, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except FileNotFoundError:
                continue
    return total


def usage(store: Store, incoming: Incoming) -> StoreUsage:
    models: List[StoreModelUsage] = []
    for name in store.model_names():
        versions = store.stored_versions(name)
        size = sum(tree_bytes(store.version_dir(name, v)) for v in versions)
        models.append(StoreModelUsage(name, size, len(versions)))
    cfg = store.config()
    where = store.path("models")
    return StoreUsage(fileio.total_bytes(where), fileio.free_bytes(where), reserve_bytes(cfg, where), models,
                      incoming.entries(), cfg.incoming_max_age_s)
