"""The transport interface: a bidirectional byte stream to ``edge-runtime bridge``."""

from __future__ import annotations

import abc


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
