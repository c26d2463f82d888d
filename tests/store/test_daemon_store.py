"""The store inside a real daemon: SIGKILL during an activation's restart hook, then a restart comes back
on the previous version with the interrupted one marked failed, and a further deploy works."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import psutil

from console.core.devices.session import DeviceSession
from console.core.models.packages import build_package
from console.core.models.store_client import StoreClient
from console.core.settings import DeviceEntry
from console.transport.local import LocalTransport
from device_runtime import protocol as p
from device_runtime.protocol import StoreImport, StoreModelRef, StorePolicyUpdate, StoreVersions
from device_runtime.server.bridge import start_daemon
from device_runtime.store.config import StoreConfig, save_config
from tests.support.daemons import RunningDaemon, stop_daemon
from tests.support.store import make_onnx
from tests.support.wire import RawClient


def _session(daemon: RunningDaemon) -> DeviceSession:
    transport = LocalTransport(sys.executable, daemon.socket_path, daemon.root, demo=False)
    session = DeviceSession(DeviceEntry(name="t", kind="local"), transport, time.time)
    session.connect()
    return session


def _wait_for(path: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, "%s never appeared" % path
        time.sleep(0.02)  # ok: the file is written by a hook in another process, which has no other signal


def test_sigkill_during_activation_then_restart(daemon: RunningDaemon, tmp_path: Path) -> None:
    packages = {}
    for version, seed in (("1.0.0", 1), ("1.1.0", 2), ("1.2.0", 3)):
        packages[version] = tmp_path / ("p-%s.tar.gz" % version)
        build_package(make_onnx(tmp_path / ("m%d.onnx" % seed), seed), packages[version], "detector", version, "t")
    session = _session(daemon)
    try:
        session.request("store.policy.set", StorePolicyUpdate(policy="allow-unsigned", who="tests"))
        client = StoreClient(session, "tests")
        assert client.deploy(packages["1.0.0"]).result == "committed"
        pid_file = tmp_path / "hook.pid"
        save_config(str(daemon.root), StoreConfig(policy="allow-unsigned", restart_hook=[
            "sh", "-c", "echo $$ > %s.tmp && mv %s.tmp %s && exec sleep 60" % (pid_file, pid_file, pid_file)]))
        remote = client.upload(packages["1.1.0"])
        session.request("store.import", StoreImport(remote, activate=True, who="tests"))
        _wait_for(pid_file, 60)  # the new version is swapped in and the restart hook runs
        os.kill(daemon.pid, signal.SIGKILL)
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
    finally:
        session.close()
    save_config(str(daemon.root), StoreConfig(policy="allow-unsigned"))
    start_daemon(str(daemon.socket_path), str(daemon.root), [])
    session = _session(daemon)
    try:
        versions = session.request("store.versions", StoreModelRef("detector"))
        assert isinstance(versions, StoreVersions)
        assert versions.active == "1.0.0"
        failed = next(v for v in versions.versions if v.version == "1.1.0")
        assert "failed" in failed.status and "interrupted" in failed.reason and "back on 1.0.0" in failed.reason
        action = StoreClient(session, "tests").deploy(packages["1.2.0"])
        assert action.result == "committed", action.message
    finally:
        session.close()


def test_a_deploy_upload_is_staged_as_it_arrives_and_a_push_only_stores(daemon: RunningDaemon) -> None:
    """A big package announced for a deploy gets a receiving child at once; one announced by
    ``edgectl push`` (stage false) gets none: nothing but the upload runs on the robot."""
    client = RawClient(daemon.socket_path)
    client.handshake()
    proc = psutil.Process(daemon.pid)

    def receivers() -> list[psutil.Process]:
        return [c for c in proc.children() if "device_runtime.store.child" in " ".join(c.cmdline())]

    size = 64 << 20
    pushed = client.call("store.upload.begin", {"sha256": "ab" * 32, "size": size, "filename": "later.tar.gz",
                                                "stage": False})
    assert isinstance(pushed, p.Response) and pushed.result["offset"] == 0
    assert receivers() == []
    deployed = client.call("store.upload.begin", {"sha256": "cd" * 32, "size": size, "filename": "now.tar.gz"})
    assert isinstance(deployed, p.Response)
    (child,) = receivers()  # started before the reply: the deploy's default
    client.close()
    stop_daemon(daemon.socket_path)
    _gone, alive = psutil.wait_procs([child], timeout=5)
    assert alive == []  # the daemon ends its receivers when it stops
