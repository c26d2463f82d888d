"""The transport interface: a bidirectional byte stream to ``edge-runtime bridge``, and what else
a transport can do besides (its capabilities), so that callers ask it instead of testing its class:
write straight into a partial file on the device (:meth:`Transport.direct_sink`), and log in over
SSH for SFTP, host keys and key installs (:meth:`Transport.ssh_login`).
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from console.transport.ssh import SshTransport


class TransportError(Exception):
    """The device could not be reached; the message says why and what to do."""


class Stream(abc.ABC):
    @abc.abstractmethod
    def read(self, size: int) -> bytes:
        """Block until some bytes arrive; ``b""`` at end of stream."""

    @abc.abstractmethod
    def write(self, data: bytes) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    def diagnostics(self) -> str:
        """What the far side printed on its error stream, for error messages."""
        return ""


class DirectSink(Protocol):
    """Appends to a partial file the device created (an upload's ``.part``), without the protocol."""

    def write(self, data: bytes | memoryview) -> None: ...

    def close(self) -> None:
        """Everything written is in the file (waits for the far side's acknowledgements)."""
        ...

    def alive(self) -> bool:
        """Whether the link under it still stands (after a failed write: then the way of writing
        was at fault, and chunks may carry on)."""
        ...

    def abandon(self) -> None:
        """Let go of it after a failure, without waiting for anything."""
        ...


class Transport(abc.ABC):
    """Opens streams to one device. ``open`` may be called again after a drop."""

    name = "transport"

    @abc.abstractmethod
    def open(self) -> Stream: ...

    def close(self) -> None:
        """Let go of what outlives a stream (an SSH transport's link); most transports hold nothing."""
        return

    def describe(self) -> str:
        return self.name

    def direct_sink(self, part: str, offset: int) -> DirectSink | None:
        """A way to append to the device's partial file ``part`` from ``offset`` that bypasses the
        protocol's base64 chunks; None when this transport has none (the chunks carry the bytes)."""
        return None

    def ssh_login(self) -> SshTransport | None:
        """This transport as an SSH login (its route, prompts and connection, for SFTP, host keys
        and key installs); None when the device is not reached over SSH."""
        return None
