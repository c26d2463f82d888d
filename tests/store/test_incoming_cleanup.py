"""Abandoned uploads in incoming/ are removed (at start-up and on a schedule); an upload in use is not."""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from console.core.devices.session import DeviceSession
from console.core.models.store_client import StoreClient
from console.core.settings import DeviceEntry
from console.transport.local import LocalTransport
from device_runtime.package_format.errors import StoreError
from device_runtime.protocol import STORE_IMPORT, StoreImport, StoreKey
from device_runtime.server.bridge import start_daemon
from device_runtime.store.config import StoreConfig, save_config
from device_runtime.store.store import Store
from device_runtime.store.upload import Incoming
from device_runtime.store.upload_handlers import UploadHandlers
from tests.support.daemons import stop_daemon
from tests.support.store import make_package, public_line

DAY = 86400.0


def _upload_part(incoming: Incoming, data: bytes, upto: int) -> str:
    """Begin an upload of ``data`` and send its first ``upto`` bytes; returns its id."""
    sha = hashlib.sha256(data).hexdigest()
    offset = incoming.begin(sha, len(data))
    while offset < upto:
        offset = incoming.append(sha, offset, data[offset:min(upto, offset + (256 << 10))])
    return sha


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_start_up_removes_abandoned_uploads_and_a_resumed_one_carries_on(short_tmp: Path, tmp_path: Path) -> None:
    root, socket = short_tmp / "root", short_tmp / "rt" / "s.sock"
    store = Store(str(root))
    store.trust_key(public_line())
    incoming = Incoming(store)
    folder = root / "incoming"
    abandoned = make_package(tmp_path, version="0.9.0", seed=9).read_bytes()
    stale = _upload_part(incoming, abandoned, len(abandoned) // 2)
    never_imported = make_package(tmp_path, version="0.8.0", seed=8).read_bytes()
    received = _upload_part(incoming, never_imported, len(never_imported))
    incoming.finish(received)
    package = make_package(tmp_path, version="1.0.0", seed=1)
    data = package.read_bytes()
    fresh = _upload_part(incoming, data, len(data) // 2)
    for name in (stale + ".part", stale + ".json", received + ".tar.gz"):
        _age(folder / name, 2 * DAY)
    (folder / "notes.txt").write_text("not the store's")
    _age(folder / "notes.txt", 2 * DAY)
    # The fresh upload began long ago but was written to an hour ago: it is in use.
    _age(folder / (fresh + ".json"), 2 * DAY)
    _age(folder / (fresh + ".part"), 3600)

    start_daemon(str(socket), str(root), [])
    session = DeviceSession(DeviceEntry(name="t", kind="local"),
                            LocalTransport(sys.executable, socket, root, demo=False), time.time)
    try:
        left = sorted(p.name for p in folder.iterdir())
        assert left == sorted([fresh + ".part", fresh + ".json", "notes.txt"])
        log = (root / "logs" / "daemon.log").read_text()
        assert "removed %s.part from incoming/: an upload that never finished" % stale in log
        assert "removed %s.tar.gz from incoming/: a received package that was never imported" % received in log

        session.connect()
        session.request("store.keys.trust", StoreKey(public_line(), "tests"))
        client = StoreClient(session, "tests")
        resumed: list[int] = []
        remote = client.upload(package, started=lambda offset, size: resumed.append(offset))
        assert resumed == [len(data) // 2]  # the kept half was not sent again
        action = client.run(STORE_IMPORT, StoreImport(remote, activate=True, who="tests"))
        assert action.result == "committed", action.message
        assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    finally:
        session.close()
        stop_daemon(socket)


def test_the_janitor_sweeps_on_a_schedule_and_spares_a_resumed_upload(store: Store, tmp_path: Path) -> None:
    save_config(store.root, StoreConfig(incoming_max_age_s=3600))
    stop = threading.Event()
    handlers = UploadHandlers(store, stop, sweep_s=0.01)
    swept = threading.Semaphore(0)
    clean = handlers.clean

    def observed() -> None:
        clean()
        swept.release()

    handlers.clean = observed  # type: ignore[method-assign]
    data = make_package(tmp_path).read_bytes()
    sha = _upload_part(handlers.incoming, data, len(data) // 2)
    part = Path(store.path("incoming", sha + ".part"))
    _age(part, 2 * 3600)
    assert handlers.incoming.begin(sha, len(data)) == len(data) // 2  # resumed: in use again
    handlers.start()
    try:
        for _ in range(3):
            assert swept.acquire(timeout=30)
        assert part.exists()
        _age(part, 2 * 3600)  # then abandoned for good
        for _ in range(2):
            assert swept.acquire(timeout=30)
        assert not part.exists() and not Path(store.path("incoming", sha + ".json")).exists()
    finally:
        stop.set()
        handlers.close()


def test_the_age_is_a_checked_setting(store: Store) -> None:
    assert StoreConfig().incoming_max_age_s == DAY
    for bad in (0, 59, 91 * DAY):
        with pytest.raises(StoreError):
            save_config(store.root, StoreConfig(incoming_max_age_s=bad))
