"""Deploying versions to a real daemon and reading them back, for the Models page and deploy wizard tests."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from console.core.devices.session import DeviceSession
from console.core.env import ConsoleEnv
from console.core.models.store_client import StoreClient
from console.core.models.tracker import succeeded
from device_runtime.protocol import (
    StoreHistory,
    StoreHistoryQuery,
    StoreModelRef,
    StoreVersions,
)
from device_runtime.store.config import ALLOW_UNSIGNED, inhibit_path, load_config, save_config
from tests.support.store import make_package

WHO = "field-tech@cart-laptop"


def deploy_versions(session: DeviceSession, tmp: Path, versions: tuple[str, ...] = ("1.0.0", "1.1.0"),
                    name: str = "detector", first_seed: int = 0) -> None:
    """Deploy real packages (a small ONNX model each) to the device, one after the other."""
    session.connect()
    tmp.mkdir(parents=True, exist_ok=True)
    client = StoreClient(session, "tests")
    for seed, version in enumerate(versions, start=first_seed):
        action = client.deploy(make_package(tmp, name, version, signed=False, seed=seed))
        assert succeeded(action), action.message


def device_versions(session: DeviceSession, name: str = "detector") -> StoreVersions:
    result = session.request("store.versions", StoreModelRef(name))
    assert isinstance(result, StoreVersions)
    return result


def device_history(session: DeviceSession, name: str = "detector") -> StoreHistory:
    result = session.request("store.history", StoreHistoryQuery(name))
    assert isinstance(result, StoreHistory)
    return result


@contextmanager
def robot_holds_the_swap_lock(env: ConsoleEnv, reason: str) -> Iterator[None]:
    """The robot's software mid-mission: a shared flock on the device's inhibit file, with its reason.
    The device's config is set to wait one second for it, not a minute."""
    root = str(env.local_root)
    config = load_config(root, ALLOW_UNSIGNED)
    config.inhibit_wait_s = 1.0
    save_config(root, config)
    lock = Path(inhibit_path(root, config))
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+b") as robot:
        robot.write(reason.encode())
        robot.flush()
        fcntl.flock(robot.fileno(), fcntl.LOCK_SH)
        yield
