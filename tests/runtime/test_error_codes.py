"""Store failures keep their code from the device to the console, which words them by code
(never by their text); a full disk shows as such, never as a raw ``OSError: [Errno 28]``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from console.core.devices.client import DeviceError
from console.core.models.tracker import explain_error
from device_runtime import protocol as p
from device_runtime.package_format.errors import Code
from device_runtime.server.bridge import start_daemon
from tests.support.daemons import stop_daemon
from tests.support.disk import (
    fill_unbuffered,
    small_disk,  # noqa: F401 - the fixture is used by name
)
from tests.support.store import make_package, public_line
from tests.support.wire import RawClient


def test_store_refusals_carry_their_code_over_the_wire(daemon) -> None:
    client = RawClient(daemon.socket_path)
    client.handshake()
    pin = client.call("store.pin", {"name": "nope", "version": "1.0.0"})
    assert isinstance(pin, p.ErrorReply) and pin.code == Code.NOT_FOUND and "not in this device's store" in pin.message
    finish = client.call("files.finish", {"id": "a" * 64})
    assert isinstance(finish, p.ErrorReply) and finish.code == Code.NOT_FOUND
    client.close()


def test_the_console_words_a_failure_by_its_code_not_its_text() -> None:
    text = "not enough disk space for detector 1.1.0"
    full = explain_error(DeviceError(text, Code.NO_SPACE), "Deploy", "robot-07")
    assert full.what.startswith("The device does not have enough free disk space") and full.details == text
    missing = explain_error(DeviceError(text, Code.NOT_FOUND), "Deploy", "robot-07")  # same words, other code
    assert missing.what.startswith("The device does not have what was asked for")
    assert "could not be reached" not in explain_error(DeviceError("x", Code.IO), "Deploy", "robot-07").what


@pytest.fixture
def daemon_on_small_disk(small_disk: Path, short_tmp: Path) -> Iterator[tuple[Path, Path]]:  # noqa: F811
    socket_path = short_tmp / "rt" / "edge-runtime.sock"
    start_daemon(str(socket_path), str(small_disk / "root"), ["--rate", "1"])
    yield socket_path, small_disk
    stop_daemon(socket_path)


def _run(client: RawClient, method: str, params: dict[str, object]) -> p.StoreAction:
    reply = client.call(method, params)
    assert isinstance(reply, p.Response), reply
    started = p.StoreAction.from_wire(reply.result)
    event = client.recv_until(lambda m: isinstance(m, p.Event) and m.topic == p.TOPIC_STORE
                              and m.data["id"] == started.id and m.data["state"] != p.STORE_ACTION_RUNNING)
    assert isinstance(event, p.Event)
    return p.StoreAction.from_wire(event.data)


def test_an_activation_on_a_full_disk_says_so_with_its_code(daemon_on_small_disk: tuple[Path, Path],
                                                           tmp_path: Path) -> None:
    socket_path, disk = daemon_on_small_disk
    client = RawClient(socket_path, timeout=60)
    client.handshake()
    assert isinstance(client.call("store.keys.trust", {"public_key": public_line()}), p.Response)
    assert isinstance(client.call("events.subscribe", {"topics": [p.TOPIC_STORE]}), p.Response)
    first = _run(client, "store.import", {"path": str(make_package(tmp_path, version="1.0.0")), "activate": True})
    assert first.result == "committed", first.message
    second = _run(client, "store.import", {"path": str(make_package(tmp_path, version="1.1.0", seed=1))})
    assert second.state == p.STORE_ACTION_SUCCEEDED, second.message
    fill_unbuffered(disk / "filler")
    third = _run(client, "store.activate", {"name": "detector", "version": "1.1.0"})
    assert third.state == p.STORE_ACTION_FAILED and third.code == Code.NO_SPACE, third
    assert "disk is full" in third.message and "Errno" not in third.message and "OSError" not in third.message
    versions = client.call("store.versions", {"name": "detector"})
    assert isinstance(versions, p.Response) and versions.result["active"] == "1.0.0"
    client.close()


def test_the_reserve_scales_with_the_disk(small_disk: Path, tmp_path: Path) -> None:  # noqa: F811
    from device_runtime.fileio import total_bytes
    from device_runtime.store.config import RESERVE_CEILING, RESERVE_FLOOR, StoreConfig, reserve_bytes

    assert reserve_bytes(StoreConfig(), str(small_disk)) == RESERVE_FLOOR  # 2 % of 8 MB is under the floor
    big = total_bytes(str(tmp_path))
    assert reserve_bytes(StoreConfig(), str(tmp_path)) == int(min(RESERVE_CEILING, max(RESERVE_FLOOR, big * 0.02)))
    assert reserve_bytes(StoreConfig(space_margin_bytes=5), str(small_disk)) == 5  # a setting wins


def test_role_and_limit_refusals_are_worded_as_refusals() -> None:
    refused = explain_error(DeviceError("trusting a key needs the admin role", p.ErrorCode.NOT_ALLOWED), "Trust",
                            "robot-07")
    assert refused.what.startswith("This needs the device's admin role") and "edge-runtime-admin" in refused.todo
    busy = explain_error(DeviceError("64 connections", p.ErrorCode.TOO_MANY_CONNECTIONS), "Deploy", "robot-07")
    assert busy.what == "The device has too many connections open for this user."
