"""Uploads over a real sshd's SFTP: resumed, verified on the device, corrupted ones refused."""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.core.devices.session import make_transport
from console.transport.sftp_upload import (
    WRITE_SIZE,
    SftpSink,
    UploadCorrupted,
    UploadError,
    UploadProgress,
    upload,
    write_size,
)
from console.transport.ssh import SshTransport
from console.transport.ssh_connection import SshConnection
from tests.support.ssh import SshWorld

SIZE = 24 * 1024 * 1024 + 12345  # not a multiple of the chunk size


class Cancelled(Exception):
    pass


def ticking_clock() -> Iterator[float]:
    return itertools.count(0.0, 0.5)  # every chunk is a progress report


@pytest.fixture
def conn(ssh_world: SshWorld) -> Iterator[SshConnection]:
    ssh_world.trust(ssh_world.servers[0])
    transport = make_transport(ssh_world.entry(), ssh_world.env)
    assert isinstance(transport, SshTransport)
    yield transport.connection()
    transport.close()


@pytest.fixture
def model(short_tmp: Path) -> Path:
    path = short_tmp / "model.onnx"
    path.write_bytes(os.urandom(SIZE))
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_upload_lands_verified_with_progress(conn: SshConnection, model: Path, short_tmp: Path) -> None:
    incoming = short_tmp / "device" / "store" / "incoming"
    reports: list[UploadProgress] = []
    result = upload(conn, model, str(incoming), progress=reports.append)
    assert result.remote_path == str(incoming / "model.onnx") and result.size == SIZE
    assert result.sha256 == _sha(model) == _sha(incoming / "model.onnx")
    assert result.resumed_from == 0 and not result.discarded_partial
    assert [p.name for p in incoming.iterdir()] == ["model.onnx"]  # no partial left behind
    assert reports[-1].sent == SIZE and reports[-1].eta_s == 0
    assert all(a.sent <= b.sent for a, b in itertools.pairwise(reports)) and reports[-1].rate_bps > 0


def _interrupt(conn: SshConnection, model: Path, incoming: Path) -> Path:
    def cancel_at_a_third(p: UploadProgress) -> None:
        if p.sent >= SIZE // 3:
            raise Cancelled

    clock = ticking_clock()
    with pytest.raises(Cancelled):
        upload(conn, model, str(incoming), progress=cancel_at_a_third, clock=lambda: next(clock))
    partials = list(incoming.glob(".model.onnx.*.part"))
    assert len(partials) == 1 and not (incoming / "model.onnx").exists()  # a partial is never the file
    assert SIZE // 3 <= partials[0].stat().st_size < SIZE
    return partials[0]


def test_interrupted_upload_resumes_where_it_stopped(conn: SshConnection, model: Path, short_tmp: Path) -> None:
    incoming = short_tmp / "incoming"
    partial = _interrupt(conn, model, incoming)
    kept = partial.stat().st_size
    reports: list[UploadProgress] = []
    result = upload(conn, model, str(incoming), progress=reports.append)
    assert result.resumed_from == kept and not result.discarded_partial
    assert reports[0].resumed_from == kept and reports[0].sent > kept
    assert _sha(incoming / "model.onnx") == _sha(model) and not partial.exists()


def test_corrupted_partial_is_detected_and_not_resumed(conn: SshConnection, model: Path, short_tmp: Path) -> None:
    incoming = short_tmp / "incoming"
    partial = _interrupt(conn, model, incoming)
    with partial.open("r+b") as handle:  # a flipped byte in what already arrived
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    result = upload(conn, model, str(incoming))
    assert result.discarded_partial and result.resumed_from == 0
    assert _sha(incoming / "model.onnx") == _sha(model)


def test_partial_longer_than_the_file_is_discarded(conn: SshConnection, model: Path, short_tmp: Path) -> None:
    incoming = short_tmp / "incoming"
    partial = _interrupt(conn, model, incoming)
    with partial.open("ab") as handle:
        handle.write(os.urandom(SIZE))
    result = upload(conn, model, str(incoming))
    assert result.discarded_partial and _sha(incoming / "model.onnx") == _sha(model)


def test_file_damaged_in_transit_is_refused_and_deleted(conn: SshConnection, model: Path, short_tmp: Path) -> None:
    incoming = short_tmp / "incoming"
    (incoming / "model.onnx").parent.mkdir(parents=True)
    (incoming / "model.onnx").write_bytes(b"the version that works")  # what the device runs now

    def damage_ahead(p: UploadProgress) -> None:
        if p.sent < SIZE // 2:  # bytes not sent yet change under the upload
            with model.open("r+b") as handle:
                handle.seek(SIZE - 100)
                handle.write(b"\0" * 50)

    clock = ticking_clock()
    with pytest.raises(UploadCorrupted) as caught:
        upload(conn, model, str(incoming), progress=damage_ahead, clock=lambda: next(clock))
    assert "arrived damaged" in str(caught.value) and "deleted" in str(caught.value)
    assert (incoming / "model.onnx").read_bytes() == b"the version that works"
    assert list(incoming.glob("*.part")) == [] and list(incoming.glob(".*.part")) == []


def test_bad_names_are_refused(conn: SshConnection, model: Path, short_tmp: Path) -> None:
    for name in ("../escape", "a/b", ".."):
        with pytest.raises(Exception, match="not a plain file name"):
            upload(conn, model, str(short_tmp / "incoming"), name=name)


def test_openssh_gets_large_writes(conn: SshConnection) -> None:
    sftp = conn.sftp()
    try:
        assert write_size(sftp) == WRITE_SIZE > 32768  # the upload tests above ran with it and verified
    finally:
        sftp.close()


def test_a_sink_that_wrote_everything_is_alive_and_the_device_holds_the_bytes(conn: SshConnection,
                                                                              short_tmp: Path) -> None:
    partial = short_tmp / "device" / "upload.part"
    partial.parent.mkdir()
    partial.write_bytes(b"")
    data = os.urandom(3 * 1024 * 1024 + 7)
    sink = SftpSink(conn, str(partial), 0)
    sink.write(data)
    sink.close()
    assert sink.alive() and partial.read_bytes() == data


def test_a_sink_whose_channel_closed_is_not_alive_though_the_connection_still_looks_alive(
        conn: SshConnection, short_tmp: Path) -> None:
    """When a link drops, paramiko closes its channels a moment before it marks the connection
    inactive. A write failing in that moment was taken for a failure of the device's SFTP server
    alone, and the rest of a push went in protocol chunks over a reconnected session instead of
    being resumed over SFTP (seen once in CI as a cut push that needed only one attempt)."""
    partial = short_tmp / "device" / "upload.part"
    partial.parent.mkdir()
    partial.write_bytes(b"")
    sink = SftpSink(conn, str(partial), 0)
    sink.write(os.urandom(1024 * 1024))
    channel = sink._sftp.get_channel()
    assert channel is not None
    channel.close()  # the state the transport's thread leaves channels in as the link goes
    with pytest.raises(UploadError, match="sending over SFTP stopped"):
        for _ in range(64):  # the first writes may still fit what was buffered
            sink.write(os.urandom(1024 * 1024))
        sink.close()
    assert conn.is_active() and not sink.alive()
