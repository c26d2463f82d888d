"""Uploads whose sha256 comes at their end (protocol 3), on a real daemon: a package sent as it is
made deploys; a corrupted stream, a sha256 that does not match what arrived, and a package cut
short are refused with nothing left in the store, its staging or incoming/; a console that is
told an older protocol hashes first and names the upload by its sha256, as before."""

from __future__ import annotations

import base64
import hashlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from onnx import numpy_helper

from console.core.devices.session import DeviceSession
from console.core.models.packages import PackageStream, package_to_send
from console.core.models.store_client import StoreClient
from console.core.settings import DeviceEntry
from console.core.transfers.upload_stream import FileStream, digest_at_end
from console.transport.local import LocalTransport
from device_runtime import protocol as p
from device_runtime.protocol import StorePolicyUpdate
from tests.support.daemons import RunningDaemon
from tests.support.store import make_onnx
from tests.support.wire import RawClient

BIG = 9 << 20  # over the size from which the daemon unpacks an upload as it arrives


def _weights(path: Path, size: int, seed: int) -> Path:
    """A model whose unused initializer of random floats makes it ``size`` bytes or so: it does
    not compress, so its package is stored and streamed."""
    import onnx

    model = onnx.load(str(make_onnx(path, seed)))
    rng = np.random.default_rng(seed)
    model.graph.initializer.append(numpy_helper.from_array(rng.standard_normal(size // 4).astype(np.float32), "pad"))
    onnx.save(model, str(path))
    return path


def _stream(tmp: Path, version: str, size: int = BIG, seed: int = 1) -> PackageStream:
    package = package_to_send(_weights(tmp / ("m%d.onnx" % seed), size, seed), tmp, "detector", version, "tests")
    assert isinstance(package, PackageStream), "random weights are stored, so the package is streamed"
    return package


def _store_root(daemon: RunningDaemon) -> Path:
    [incoming] = [d for d in daemon.root.rglob("incoming") if d.is_dir()]
    return incoming.parent


def _left_behind(daemon: RunningDaemon) -> list[str]:
    """Anything an upload or import left: files in incoming/, staging folders, stored versions."""
    root = _store_root(daemon)
    found = [str(p.relative_to(root)) for p in (root / "incoming").iterdir()]
    models = root / "models"
    if models.is_dir():
        found += [str(p.relative_to(root)) for p in models.rglob("*") if p.is_dir() or p.name.startswith(".")]
    return found


@pytest.fixture
def session(daemon: RunningDaemon) -> Iterator[DeviceSession]:
    transport = LocalTransport(sys.executable, daemon.socket_path, daemon.root, demo=False)
    session = DeviceSession(DeviceEntry(name="t", kind="local"), transport, time.time)
    session.connect()
    session.request("store.policy.set", StorePolicyUpdate(policy="allow-unsigned", who="tests"))
    yield session
    session.close()


@pytest.fixture
def raw(daemon: RunningDaemon, session: DeviceSession) -> Iterator[RawClient]:
    client = RawClient(daemon.socket_path)
    client.handshake()
    yield client
    client.close()


def _send(client: RawClient, name: str, data: bytes) -> None:
    """The bytes in protocol chunks (the daemon hashes them as they arrive)."""
    for offset in range(0, len(data), p.STORE_UPLOAD_CHUNK):
        chunk = data[offset:offset + p.STORE_UPLOAD_CHUNK]
        reply = client.call("store.upload.chunk", {"id": name, "offset": offset,
                                                   "data": base64.b64encode(chunk).decode("ascii")})
        assert isinstance(reply, p.Response), reply


def _begin(client: RawClient, name: str, size: int) -> None:
    reply = client.call("store.upload.begin", {"sha256": name, "size": size, "filename": "x.tar.gz",
                                               "digest_at_end": True})
    assert isinstance(reply, p.Response) and reply.result["offset"] == 0, reply


def test_a_package_sent_as_it_is_made_deploys_and_leaves_nothing_in_incoming(
        daemon: RunningDaemon, session: DeviceSession, tmp_path: Path) -> None:
    assert digest_at_end(session)
    stream = _stream(tmp_path, "1.0.0")
    action = StoreClient(session, "tests").deploy(stream)
    assert action.result == "committed", action.message
    assert any("as it arrived" in note for note in action.notes), action.notes  # unpacked while it arrived
    assert _left_behind(daemon) == ["models/detector", "models/detector/1.0.0"]
    stored = _store_root(daemon) / "models" / "detector" / "1.0.0" / "model.onnx"
    assert stored.read_bytes() == (tmp_path / "m1.onnx").read_bytes()


@pytest.mark.parametrize("size", [1 << 20, BIG], ids=["imported-after", "unpacked-as-it-arrives"])
def test_a_corrupted_stream_is_refused_and_nothing_is_left(daemon: RunningDaemon, raw: RawClient, tmp_path: Path,
                                                           size: int) -> None:
    data = b"".join(_stream(tmp_path, "1.0.0", size).blocks())
    damaged = bytearray(data)
    damaged[len(data) // 2] ^= 0xFF
    name = "ab" * 32
    _begin(raw, name, len(data))
    _send(raw, name, bytes(damaged))
    reply = raw.call("store.upload.finish", {"id": name, "sha256": hashlib.sha256(data).hexdigest()})
    assert isinstance(reply, p.ErrorReply) and "damaged" in reply.message and "deleted" in reply.message, reply
    assert _left_behind(daemon) == []


def test_a_sha256_other_than_what_arrived_is_refused(daemon: RunningDaemon, raw: RawClient, tmp_path: Path) -> None:
    data = b"".join(_stream(tmp_path, "1.0.0").blocks())
    name = "cd" * 32
    _begin(raw, name, len(data))
    _send(raw, name, data)
    reply = raw.call("store.upload.finish", {"id": name, "sha256": hashlib.sha256(data + b"x").hexdigest()})
    assert isinstance(reply, p.ErrorReply) and "damaged" in reply.message, reply
    missing = raw.call("store.upload.finish", {"id": name})  # and an upload begun so needs its sha256
    assert isinstance(missing, p.ErrorReply)
    assert _left_behind(daemon) == []


def test_finish_without_the_sha256_is_refused_and_the_upload_kept(daemon: RunningDaemon, raw: RawClient,
                                                                   tmp_path: Path) -> None:
    data = b"".join(_stream(tmp_path, "1.0.0", 1 << 20).blocks())
    name = "ef" * 32
    _begin(raw, name, len(data))
    _send(raw, name, data)
    reply = raw.call("store.upload.finish", {"id": name})
    assert isinstance(reply, p.ErrorReply) and "finish it with the sha256" in reply.message, reply
    done = raw.call("store.upload.finish", {"id": name, "sha256": hashlib.sha256(data).hexdigest()})
    assert isinstance(done, p.Response) and done.result["path"].endswith(hashlib.sha256(data).hexdigest() + ".tar.gz")


def test_a_package_cut_short_is_refused_by_the_import_and_removed(daemon: RunningDaemon, session: DeviceSession,
                                                                   tmp_path: Path) -> None:
    """Every byte that was sent arrived and matches its sha256, but the package ends early: the
    import refuses it, and the upload goes with nothing stored or staged."""
    data = b"".join(_stream(tmp_path, "1.0.0").blocks())
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(data[:len(data) * 2 // 3])
    action = StoreClient(session, "tests").deploy(cut)
    assert action.state == "failed" and "truncated" in action.message, action.message
    assert "removed from the device" in action.message
    assert _left_behind(daemon) == []


def test_a_stream_that_fails_on_this_computer_leaves_nothing_on_the_device(
        daemon: RunningDaemon, session: DeviceSession, tmp_path: Path) -> None:
    """The model shrinks while its package is being sent: the send stops, says why, and the
    partial upload (which nobody could resume) is removed."""
    stream = _stream(tmp_path, "1.0.0")
    model = tmp_path / "m1.onnx"
    blocks = stream.blocks
    sent: list[int] = []

    def shrinking() -> Iterator[bytes]:
        for block in blocks():
            sent.append(len(block))
            if len(sent) == 3:
                os.truncate(model, 1 << 20)
            yield block

    stream.blocks = shrinking  # type: ignore[method-assign]
    with pytest.raises(Exception, match="became shorter while it was packaged"):
        StoreClient(session, "tests").deploy(stream)
    assert _left_behind(daemon) == []


def test_a_file_upload_to_a_device_of_protocol_3_is_hashed_as_it_goes(daemon: RunningDaemon,
                                                                     session: DeviceSession, tmp_path: Path) -> None:
    """A package file from elsewhere (not written by this process) is uploaded by a name and its
    sha256 given at the end; the device names the result by that sha256."""
    data = b"".join(_stream(tmp_path, "1.0.0").blocks())
    package = tmp_path / "copied.tar.gz"
    package.write_bytes(data)
    path = StoreClient(session, "tests").upload(package)
    assert Path(path).name == hashlib.sha256(data).hexdigest() + ".tar.gz" and Path(path).read_bytes() == data
    assert FileStream(package).upload_name() != hashlib.sha256(data).hexdigest()


def test_a_device_of_an_older_protocol_gets_the_sha256_first(daemon: RunningDaemon, session: DeviceSession,
                                                            tmp_path: Path) -> None:
    """The console speaks to a runtime of protocol 2 as before: the stream is hashed first and the
    upload named by that sha256 (the daemon here is new, and takes that way too)."""
    conn = session._conn
    assert conn is not None and conn.welcome is not None
    conn.welcome.protocol = 2
    assert not digest_at_end(session)
    stream = _stream(tmp_path, "1.0.0")
    reads = []
    blocks = stream.blocks

    def counted() -> Iterator[bytes]:
        reads.append(1)
        yield from blocks()

    stream.blocks = counted  # type: ignore[method-assign]
    action = StoreClient(session, "tests").deploy(stream)
    assert action.result == "committed", action.message
    assert len(reads) == 2  # once for the sha256 the upload is named by, once to send it
    assert _left_behind(daemon) == ["models/detector", "models/detector/1.0.0"]
