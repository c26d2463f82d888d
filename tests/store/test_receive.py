"""Unpacking a package while its upload arrives: a real receiving child follows a part file that
is still being written, and its staged version is committed only when everything matched."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from device_runtime.package_format.errors import Code, StoreError
from device_runtime.protocol import StoreUploadFinish
from device_runtime.store.growing import GrowingFile, Stalled
from device_runtime.store.receiver import Receivers
from device_runtime.store.store import Store
from device_runtime.store.upload import UNSYNCED, Incoming
from device_runtime.store.upload_handlers import UploadHandlers
from device_runtime.store.verify import hash_problems
from tests.support.store import OTHER_KEY, make_package, snapshot

STEP = 64 << 10


def _staging_leftovers(store: Store) -> list[str]:
    return [e for e in os.listdir(store.path("models")) if e.startswith(".staging-")]


class Upload:
    """An upload of ``data`` announced as ``sha256``, written in steps as a sender would."""

    def __init__(self, store: Store, data: bytes, sha256: str | None = None) -> None:
        self.data = data
        self.sha = sha256 or hashlib.sha256(data).hexdigest()
        self.incoming = Incoming(store)
        self.incoming.begin(self.sha, len(data))
        self.part = self.incoming.part_path(self.sha)
        self.receivers = Receivers(store, min_bytes=0)

    def send(self, start: int, end: int) -> None:
        with open(self.part, "ab") as handle:
            for offset in range(start, end, STEP):
                handle.write(self.data[offset:min(end, offset + STEP)])
                handle.flush()


@pytest.fixture
def upload_of(store: Store) -> Iterator[object]:
    started: list[Upload] = []

    def make(data: bytes, sha256: str | None = None) -> Upload:
        started.append(Upload(store, data, sha256))
        return started[-1]

    yield make
    for upload in started:
        upload.receivers.close()


def test_a_package_is_staged_as_it_arrives_and_committed(store: Store, tmp_path: Path, upload_of) -> None:
    data = make_package(tmp_path, padding_bytes=2 << 20).read_bytes()
    upload = upload_of(data)
    half = len(data) // 2
    upload.send(0, half)
    upload.receivers.start(upload.sha, upload.part, len(data))  # as store.upload.begin does
    upload.send(half, len(data))
    receiver = upload.receivers.get(upload.sha)
    assert receiver is not None
    assert receiver.hashed() == upload.sha
    path = upload.incoming.finish(upload.sha, receiver.hashed())
    assert upload.incoming.finished_id(path) == upload.sha
    taken = upload.receivers.take(upload.sha)
    assert taken is receiver
    reply = receiver.commit("tests", "streamed")
    receiver.stop()
    assert reply is not None and reply["result"]["version"] == "1.0.0", reply
    assert reply["warm"]["ok"] and reply["warm"]["provider"]
    directory = store.version_dir("detector", "1.0.0")
    assert hash_problems(directory, store.manifest("detector", "1.0.0")) == []
    assert store.signer("detector", "1.0.0") is not None
    assert _staging_leftovers(store) == []


def test_bytes_other_than_announced_are_not_committed(store: Store, tmp_path: Path, upload_of) -> None:
    announced = make_package(tmp_path, version="1.0.0", seed=1).read_bytes()
    sent = make_package(tmp_path, version="1.1.0", seed=2).read_bytes()  # valid, but not the one announced
    before = snapshot(Path(store.root))
    upload = upload_of(sent, hashlib.sha256(announced).hexdigest())
    upload.receivers.start(upload.sha, upload.part, len(sent))
    upload.send(0, len(sent))
    receiver = upload.receivers.take(upload.sha)
    assert receiver is not None
    assert receiver.hashed() is None  # the child's sha256 is not the announced one: finish hashes itself
    assert receiver.commit("tests", "") is None
    receiver.stop()
    with pytest.raises(StoreError) as caught:
        upload.incoming.finish(upload.sha)
    assert caught.value.code == Code.HASH_MISMATCH
    assert _staging_leftovers(store) == [] and not os.path.isdir(store.path("models", "detector"))
    assert snapshot(Path(store.root)) == before


def test_an_untrusted_signer_stops_the_child_before_any_file_is_unpacked(store: Store, tmp_path: Path,
                                                                          upload_of) -> None:
    data = make_package(tmp_path, key=OTHER_KEY, padding_bytes=1 << 20).read_bytes()
    upload = upload_of(data)
    upload.send(0, len(data))
    upload.receivers.start(upload.sha, upload.part, len(data))
    receiver = upload.receivers.take(upload.sha)
    assert receiver is not None
    assert receiver.commit("tests", "") is None
    receiver.stop()
    assert receiver.proc.returncode == 1
    assert _staging_leftovers(store) == [] and store.stored_versions("detector") == []


def test_a_staged_version_nobody_imports_is_removed(store: Store, tmp_path: Path, upload_of) -> None:
    data = make_package(tmp_path).read_bytes()
    upload = upload_of(data)
    upload.send(0, len(data))
    upload.receivers.start(upload.sha, upload.part, len(data))
    receiver = upload.receivers.get(upload.sha)
    assert receiver is not None and receiver.hashed() == upload.sha
    upload.receivers.close()  # the daemon stops: the child ends without a commit
    assert _staging_leftovers(store) == [] and store.stored_versions("detector") == []


def test_the_daemon_closing_the_pipe_stops_the_following_of_a_stalled_upload(store: Store, tmp_path: Path,
                                                                             upload_of) -> None:
    data = make_package(tmp_path).read_bytes()
    upload = upload_of(data)
    upload.send(0, len(data) // 2)  # the sender stalls halfway
    upload.receivers.start(upload.sha, upload.part, len(data))
    receiver = upload.receivers.get(upload.sha)
    assert receiver is not None and receiver.alive and receiver.proc.stdin is not None
    receiver.proc.stdin.close()  # what a stopping daemon does: the child must not wait out its idle limit
    assert receiver.proc.wait(timeout=10) == 1
    assert _staging_leftovers(store) == []


def test_a_growing_file_is_read_to_its_size_and_hashed(tmp_path: Path) -> None:
    data = os.urandom(3 * STEP + 123)
    path = tmp_path / "part"
    path.write_bytes(data[:STEP])
    heard: list[str] = []
    growing = GrowingFile(str(path), len(data), idle_s=30, on_complete=heard.append)
    writer = threading.Thread(target=lambda: path.open("ab").write(data[STEP:]))
    assert growing.read(10 * STEP) == data[:STEP]
    writer.start()
    got = b"".join(iter(lambda: growing.read(STEP), b""))
    writer.join()
    assert data[:STEP] + got == data and growing.complete
    assert heard == [hashlib.sha256(data).hexdigest()] == [growing.hexdigest()]
    growing.close()


def test_a_growing_file_gives_up_when_cancelled(tmp_path: Path) -> None:
    path = tmp_path / "part"
    path.write_bytes(b"x")
    growing = GrowingFile(str(path), 10, idle_s=30)
    assert growing.read() == b"x"
    growing.cancel.set()
    with pytest.raises(Stalled):
        growing.read()
    growing.close()


def _record_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the files and folders fsync'd from now on (each is still fsync'd)."""
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink("/proc/self/fd/%d" % fd))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return synced


def test_a_followed_package_is_not_fsyncd_and_goes_with_its_import(store: Store, tmp_path: Path, upload_of,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The deploy path writes the model to disk once: the receiver's staged copy is fsync'd, the
    package it came in is renamed without an fsync (its record says so) and removed by the import."""
    data = make_package(tmp_path, padding_bytes=2 << 20).read_bytes()
    upload = upload_of(data)
    upload.receivers.start(upload.sha, upload.part, len(data))
    upload.send(0, len(data))
    receiver = upload.receivers.get(upload.sha)
    assert receiver is not None and receiver.hashed() == upload.sha
    synced = _record_fsyncs(monkeypatch)
    handlers = UploadHandlers(store, threading.Event())
    handlers.receivers = upload.receivers
    state = handlers.finish(StoreUploadFinish(upload.sha))
    monkeypatch.undo()
    assert state.path is not None and upload.incoming.finished_id(state.path) == upload.sha
    assert not any(path.endswith((".part", ".tar.gz")) for path in synced), synced  # its record and folder only
    record = json.loads(Path(upload.incoming.part_path(upload.sha)[:-5] + ".json").read_text())
    assert record[UNSYNCED] is True
    assert handlers.commit_received(state.path, "tests", "")["result"]["version"] == "1.0.0"  # type: ignore[index]
    upload.incoming.discard(state.path)  # as the import does once it holds the files
    assert os.listdir(store.path("incoming")) == []
    assert hash_problems(store.version_dir("detector", "1.0.0"), store.manifest("detector", "1.0.0")) == []


def test_an_unsynced_package_is_checked_at_start_up(store: Store, tmp_path: Path) -> None:
    """A power cut between an unsynced finish and its import: at the next start a package whose
    bytes still match is kept (and fsync'd), one the disk did not get whole is removed, and a
    sender offering it again starts from byte 0 instead of being told it is there."""
    packages = [make_package(tmp_path, version=v, seed=i).read_bytes() for i, v in enumerate(("1.0.0", "1.1.0"))]
    incoming = Incoming(store)
    finals = []
    for data in packages:
        sha = hashlib.sha256(data).hexdigest()
        incoming.begin(sha, len(data))
        incoming.append(sha, 0, data)
        finals.append(Path(incoming.finish(sha, sync=False)))
    damaged = finals[1]
    damaged.write_bytes(b"\0" * damaged.stat().st_size)  # what delayed allocation can leave after a power cut

    notes = Incoming(store).check_unsynced()  # the next start

    kept, removed = ("%s.tar.gz" % hashlib.sha256(data).hexdigest() for data in packages)
    assert sorted(notes) == sorted(["kept %s in incoming/: received just before the runtime stopped, its bytes "
                                    "still match" % kept,
                                    "removed %s from incoming/: received just before the runtime stopped, its "
                                    "bytes did not reach the disk whole (send the package again)" % removed]), notes
    assert finals[0].read_bytes() == packages[0]
    assert UNSYNCED not in json.loads(finals[0].with_name(finals[0].name[:-7] + ".json").read_text())
    assert not damaged.exists() and not damaged.with_name(damaged.name[:-7] + ".json").exists()
    again = Incoming(store)
    sha = hashlib.sha256(packages[1]).hexdigest()
    assert again.begin(sha, len(packages[1])) == 0
    assert again.begin(hashlib.sha256(packages[0]).hexdigest(), len(packages[0])) == len(packages[0])
    assert Incoming(store).check_unsynced() == []


def test_an_upload_nobody_followed_is_fsyncd_at_finish(store: Store, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_package(tmp_path).read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    handlers = UploadHandlers(store, threading.Event())
    handlers.incoming.begin(sha, len(data))
    handlers.incoming.append(sha, 0, data)
    synced = _record_fsyncs(monkeypatch)
    state = handlers.finish(StoreUploadFinish(sha))
    monkeypatch.undo()
    assert any(path.endswith(".part") for path in synced), synced  # fsync'd under its part name, then renamed
    assert state.path is not None
    assert UNSYNCED not in json.loads(Path(state.path[:-7] + ".json").read_text())
