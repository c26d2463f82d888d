"""The gzip layer of model packages: the one header the device accepts, and a level that fits the data.

The header is fixed (no name, no time; see ``device_runtime.package_format.package.GZIP_HEADER``), so the
same files always give the same archive and a changed header byte is a refused package. Model
weights are mostly incompressible (random-looking floats, or already-quantised bytes): deflate
then spends seconds per 100 MB to save nothing, so a sample of the files picks the level, and
data that does not shrink is stored (deflate's stored blocks: still a valid ``.tar.gz``). Stored
blocks are framed here (:func:`stored`), one run of blocks per piece of the tar, so a stored
archive's size is known before a byte of it is made and it can be sent as it is made.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from device_runtime.package_format.package import GZIP_HEADER

COMPRESS_LEVEL = 6
STORE_LEVEL = 0
SAMPLE_BYTES = 256 << 10
SAMPLES_PER_FILE = 4
WORTH_IT = 0.75  # compress when a sample shrinks to at most this fraction: float weights (~0.9) are stored


class CanonicalGzip:
    """A write-only gzip stream with the fixed header; :meth:`close` writes the trailer and
    leaves the underlying file open."""

    def __init__(self, raw: BinaryIO, level: int = COMPRESS_LEVEL) -> None:
        self._raw = raw
        self._deflate = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
        self._crc = 0
        self._size = 0
        raw.write(GZIP_HEADER)

    def write(self, data: bytes | memoryview) -> int:
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        self._raw.write(self._deflate.compress(data))
        return len(data)

    def close(self) -> None:
        self._raw.write(self._deflate.flush())
        self._raw.write(struct.pack("<II", self._crc & 0xFFFFFFFF, self._size & 0xFFFFFFFF))


def choose_level(paths: Iterable[Path]) -> int:
    """Deflate's level for these files: stored when samples spread over them do not shrink."""
    raw = packed = 0
    for path in paths:
        size = path.stat().st_size
        step = max(size // SAMPLES_PER_FILE, SAMPLE_BYTES)
        with open(path, "rb") as handle:
            for offset in range(0, max(size, 1), step):
                handle.seek(offset)
                sample = handle.read(SAMPLE_BYTES)
                raw += len(sample)
                packed += len(zlib.compress(sample, 1))
    return COMPRESS_LEVEL if raw and packed <= WORTH_IT * raw else STORE_LEVEL


STORED_BLOCK = 65535  # the most one deflate stored block holds
STORED_END = b"\x01\x00\x00\xff\xff"  # the final block: stored, empty
READ_SIZE = 16 * STORED_BLOCK  # file reads that fill whole blocks


def stored_size(length: int) -> int:
    """The size of ``length`` bytes framed by :func:`stored`."""
    return length + 5 * -(-length // STORED_BLOCK)


def stored(data: bytes | memoryview) -> bytes:
    """``data`` as deflate stored blocks (none of them final), each at most STORED_BLOCK bytes."""
    view = memoryview(data)
    parts: list[bytes | memoryview] = []
    for start in range(0, len(view), STORED_BLOCK):
        piece = view[start:start + STORED_BLOCK]
        parts.append(struct.pack("<BHH", 0, len(piece), len(piece) ^ 0xFFFF))
        parts.append(piece)
    return b"".join(parts)


def stored_trailer(crc: int, length: int) -> bytes:
    """The final empty block and the gzip trailer (the crc32 and size of the uncompressed bytes)."""
    return STORED_END + struct.pack("<II", crc & 0xFFFFFFFF, length & 0xFFFFFFFF)
