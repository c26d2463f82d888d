"""A lab on this machine: real ``edge-runtime serve`` daemons, each on its own temp socket and store,
registered in a temp console as ``socket`` devices with tags, and real packages to roll out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from console.core.env import ConsoleEnv
from console.core.models.packages import build_package
from device_runtime.server.bridge import start_daemon
from device_runtime.store.config import StoreConfig, save_config
from tests.support.daemons import stop_daemon
from tests.support.lab import GRACE_S, HOT_BOARD, Lab
from tests.support.store import make_onnx

ROBOTS = 4


@pytest.fixture
def lab(short_tmp: Path, tmp_path: Path) -> Iterator[Lab]:
    """``robot-1`` .. ``robot-4``, all tagged ``lab``; ``robot-1`` also ``canary``; ``robot-4`` on a fixture board."""
    env = ConsoleEnv(config_dir=short_tmp / "cfg", data_dir=short_tmp / "data", runtime_dir=short_tmp / "run",
                     environ={"HOME": str(short_tmp)})
    packages = {}
    for seed, version in enumerate(("1.0.0", "1.1.0")):
        packages[version] = tmp_path / ("detector-%s.tar.gz" % version)
        build_package(make_onnx(tmp_path / ("m%d.onnx" % seed), seed), packages[version], "detector", version, "tests")
    sockets: dict[str, Path] = {}
    try:
        for number in range(1, ROBOTS + 1):
            name = "robot-%d" % number
            root = short_tmp / name / "root"  # short_tmp: unix socket paths are limited to ~107 bytes
            save_config(str(root), StoreConfig(policy="allow-unsigned", health_grace_s=GRACE_S))
            sockets[name] = short_tmp / name / "rt.sock"
            start_daemon(str(sockets[name]), str(root),
                         ["--rate", "5"] + (["--sys-root", str(HOT_BOARD)] if number == ROBOTS else []))
        lab = Lab(env, sockets, packages)
        for name, socket in sockets.items():
            tags = ["--tag", "lab"] + (["--tag", "canary"] if name == "robot-1" else [])
            code, _, err = lab.run("devices", "add", name, "--socket", str(socket), *tags)
            assert code == 0, err
        yield lab
    finally:
        for socket in sockets.values():
            stop_daemon(socket)
