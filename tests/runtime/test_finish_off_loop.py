"""Finishing an upload hashes the whole file off the daemon's event loop: other requests and
telemetry are answered while it runs.

The daemon runs in this process (its loop on the test's thread, the client on another) so the
test can hold the hash at the uploads' ``before_hash`` hook until it has seen the other replies:
nothing here depends on timing.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from device_runtime import protocol as p
from device_runtime.server.daemon import Daemon
from device_runtime.server.files import FileService
from device_runtime.store.service import StoreService
from tests.support.wire import RawClient

WAIT_S = 30.0


class HeldHash:
    """A before_hash hook that stops the finishing thread until released."""

    def __init__(self) -> None:
        self.hashing = threading.Event()
        self.release = threading.Event()

    def __call__(self, part: str) -> None:
        self.hashing.set()
        assert self.release.wait(WAIT_S), "the test never released the hash"


def serve_while(daemon: Daemon, conversation: Callable[[RawClient], None]) -> None:
    """Serve on this thread while ``conversation(client)`` runs on another; then stop."""
    failures: list[BaseException] = []

    def client_side() -> None:
        try:
            client = RawClient(Path(daemon.socket_path), timeout=WAIT_S)
            try:
                client.handshake()
                conversation(client)
            finally:
                client.close()
        except BaseException as exc:  # reported on the test's thread
            failures.append(exc)
        finally:
            assert daemon._loop is not None
            daemon._loop.call_soon_threadsafe(daemon.stop)

    thread = threading.Thread(target=client_side, name="test-client")
    daemon.run(ready=thread.start)
    thread.join(WAIT_S)
    assert not thread.is_alive()
    if failures:
        raise failures[0]


def _service(daemon: Daemon, kind: type) -> Any:
    return next(s for s in daemon.services if isinstance(s, kind))


def _send(client: RawClient, method: str, params: dict[str, Any]) -> int:
    client.next_id += 1
    client.send(p.Request(client.next_id, method, params))
    return client.next_id


def _answered_while_held(client: RawClient, held: HeldHash, finish_id: int) -> p.Response:
    """With the finish held mid-hash, a ping, the telemetry table and a pushed sample arrive;
    the finish's own reply comes once the hash is released."""
    assert held.hashing.wait(WAIT_S), "the finish never started hashing"
    assert isinstance(client.call("ping"), p.Response)
    assert isinstance(client.call("telemetry.describe"), p.Response)
    assert isinstance(client.call("telemetry.subscribe", {"rate_hz": 10.0}), p.Response)
    client.recv_until(lambda m: isinstance(m, p.Event) and m.topic == p.TOPIC_SAMPLE)
    assert not any(isinstance(m, (p.Response, p.ErrorReply)) and m.id == finish_id for m in client.inbox)
    held.release.set()
    reply = client.recv_until(lambda m: isinstance(m, (p.Response, p.ErrorReply)) and m.id == finish_id)
    assert isinstance(reply, p.Response), reply
    return reply


def test_a_files_finish_hashes_off_the_loop(short_tmp: Path) -> None:
    data = b"calibration bytes " * 40_000
    sha = hashlib.sha256(data).hexdigest()
    daemon = Daemon(str(short_tmp / "rt" / "s.sock"), str(short_tmp / "root"), base_rate_hz=10.0)
    held = HeldHash()
    _service(daemon, FileService).uploads.before_hash = held
    seen: dict[str, Any] = {}

    def conversation(client: RawClient) -> None:
        begin = client.call("files.begin", {"sha256": sha, "size": len(data), "filename": "calib.npz"})
        assert isinstance(begin, p.Response)
        Path(begin.result["part"]).write_bytes(data)  # as SFTP would: the daemon never saw these bytes
        seen["path"] = _answered_while_held(client, held, _send(client, "files.finish", {"id": sha})).result["path"]

    serve_while(daemon, conversation)
    assert Path(seen["path"]).read_bytes() == data


def test_a_store_finish_hashes_off_the_loop(short_tmp: Path) -> None:
    data = b"not a package, only bytes to upload " * 20_000
    sha = hashlib.sha256(data).hexdigest()
    daemon = Daemon(str(short_tmp / "rt" / "s.sock"), str(short_tmp / "root"), base_rate_hz=10.0)
    held = HeldHash()
    _service(daemon, StoreService).incoming.uploads.before_hash = held
    seen: dict[str, Any] = {}

    def conversation(client: RawClient) -> None:
        begin = client.call("store.upload.begin", {"sha256": sha, "size": len(data), "filename": "x.tar.gz"})
        assert isinstance(begin, p.Response) and begin.result["offset"] == 0
        half = len(data) // 2
        chunk = {"id": sha, "offset": 0, "data": base64.b64encode(data[:half]).decode()}
        assert isinstance(client.call("store.upload.chunk", chunk), p.Response)
        with open(begin.result["part"], "ab") as part:  # the rest as SFTP would append it
            part.write(data[half:])
        finish = _send(client, "store.upload.finish", {"id": sha})
        seen["path"] = _answered_while_held(client, held, finish).result["path"]

    serve_while(daemon, conversation)
    assert Path(seen["path"]).read_bytes() == data
