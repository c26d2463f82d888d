"""What a transport can do besides carrying the protocol, asked of the transport instead of read
from its class: a direct way into the device's partial file, and an SSH login."""

from __future__ import annotations

from pathlib import Path

from console.core.devices.session import make_transport
from console.core.env import ConsoleEnv
from console.core.settings import DeviceEntry
from console.transport.base import Stream, Transport
from console.transport.file_sink import FileSink
from console.transport.local import LocalTransport


class _Piped(Transport):
    """A transport that carries the protocol and nothing else."""

    def open(self) -> Stream:
        raise NotImplementedError


def test_a_plain_transport_has_no_direct_route_and_no_ssh_login(tmp_path: Path) -> None:
    part = tmp_path / "upload.part"
    part.write_bytes(b"")
    transport = _Piped()
    assert transport.direct_sink(str(part), 0) is None
    assert transport.ssh_login() is None


def test_the_local_device_is_written_straight_into_its_partial_file(tmp_path: Path) -> None:
    part = tmp_path / "upload.part"
    part.write_bytes(b"held")
    transport = LocalTransport("python3", tmp_path / "rt.sock", tmp_path)
    sink = transport.direct_sink(str(part), 4)
    assert isinstance(sink, FileSink) and sink.alive()
    sink.write(b" and more")
    sink.write(memoryview(b"!"))
    sink.close()
    assert part.read_bytes() == b"held and more!"
    assert transport.ssh_login() is None


def test_an_ssh_device_s_transport_is_its_ssh_login(console_env: ConsoleEnv) -> None:
    transport = make_transport(DeviceEntry(name="robot", kind="ssh", host="127.0.0.1", user="robot"), console_env)
    assert transport.ssh_login() is transport
    local = make_transport(DeviceEntry(name="local", kind="local"), console_env)
    assert local.ssh_login() is None
