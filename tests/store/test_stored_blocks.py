"""The package reader's gzip layer takes stored blocks' bytes as they are and hands the rest to zlib:
whatever a gzip writer makes of the bytes (stored, compressed, or both in one stream, cut into reads of
any size), what comes out is what went in, and whatever zlib would refuse is refused with the reason."""

from __future__ import annotations

import gzip
import os
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.core.models.package_gzip import STORED_END, stored, stored_trailer
from device_runtime.package_format.errors import StoreError
from device_runtime.package_format.package import CHUNK, GZIP_HEADER, WINDOW, StrictGzip


class Pieces:
    """A byte source that hands out its bytes in reads of the given sizes (then whatever is asked)."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data = data
        self.sizes = list(sizes)
        self.pos = 0

    def read(self, size: int = -1) -> bytes:
        if self.sizes:
            size = min(size, self.sizes.pop(0)) if size >= 0 else self.sizes.pop(0)
        end = len(self.data) if size < 0 else self.pos + size
        out, self.pos = self.data[self.pos:end], min(end, len(self.data))
        return out

    def close(self) -> None:
        pass


def read_all(stream: bytes, sizes: list[int] | None = None, limit: int = 1 << 30) -> bytes:
    reader = StrictGzip(Pieces(stream, sizes or []), limit)
    out: list[bytes] = []
    while True:
        block = reader.read(CHUNK)
        if not block:
            return b"".join(out)
        out.append(bytes(block))


def stored_stream(data: bytes) -> bytes:
    """What package build sends for files that do not compress: stored blocks, the final one empty."""
    return GZIP_HEADER + stored(data) + stored_trailer(zlib.crc32(data), len(data))


def refusal(stream: bytes, sizes: list[int] | None = None) -> str:
    with pytest.raises(StoreError) as caught:
        read_all(stream, sizes)
    return caught.value.message


def test_stored_blocks_come_out_as_they_went_in_across_any_read_sizes() -> None:
    data = os.urandom(3 * CHUNK + 70_001)
    stream = stored_stream(data)
    assert read_all(stream) == data
    assert read_all(stream, [1] * 40 + [3, 7, 65_540, 5, 1]) == data  # block headers cut between reads
    assert gzip.decompress(stream) == data  # and it is plain gzip


def test_a_compressed_block_after_stored_ones_may_refer_back_into_them() -> None:
    """zlib picks up where the stored blocks end with the last 32 KB as its window: a block that
    copies from the stored bytes before it comes out right (without the window it cannot)."""
    head = os.urandom(100_000)
    tail = head[-20_000:] * 5  # long matches into the stored bytes
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS, zdict=head[-WINDOW:])
    compressed = deflate.compress(tail) + deflate.flush()
    assert len(compressed) < len(tail) // 10  # it really refers back
    stream = GZIP_HEADER + stored(head) + compressed + struct.pack("<II", zlib.crc32(head + tail), len(head + tail))
    assert gzip.decompress(stream) == head + tail
    assert read_all(stream) == head + tail
    assert read_all(stream, [CHUNK // 3] * 9) == head + tail


def test_a_wholly_compressed_stream_reads_as_before() -> None:
    data = b"person bicycle car " * 100_000
    stream = GZIP_HEADER + zlib.compress(data, 6)[2:-4] + struct.pack("<II", zlib.crc32(data), len(data))
    assert gzip.decompress(stream) == data
    assert read_all(stream) == data
    assert read_all(stream, [2] * 100) == data


@settings(max_examples=80, deadline=None)
@given(parts=st.lists(st.tuples(st.sampled_from(["stored", "deflate", "empty"]), st.binary(max_size=3000),
                                st.integers(1, 4)), min_size=1, max_size=8),
       sizes=st.lists(st.integers(1, 5000), max_size=30))
def test_any_mix_of_stored_and_compressed_blocks_reads_as_zlib_reads_it(parts: list[tuple[str, bytes, int]],
                                                                        sizes: list[int]) -> None:
    """Streams written as a gzip writer may write them: runs of stored blocks (of any length, also
    empty) and compressed runs that refer back across them; the bytes out are zlib's, read in any sizes."""
    body, data = b"", b""
    for kind, drawn, repeat in parts:
        piece = b"" if kind == "empty" else drawn * repeat
        if kind == "stored":
            body += stored(piece)
        elif kind == "empty":
            body += struct.pack("<BHH", 0, 0, 0xFFFF)
        else:
            deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS, zdict=data[-WINDOW:] or b"\0")
            body += deflate.compress(piece) + deflate.flush(zlib.Z_SYNC_FLUSH)
        data += piece
    if parts[-1][0] == "deflate":
        deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        body += deflate.flush()  # a final (empty) compressed block
    else:
        body += STORED_END
    stream = GZIP_HEADER + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
    assert gzip.decompress(stream) == data
    assert read_all(stream, sizes) == data


def test_damage_is_named() -> None:
    data = os.urandom(200_000)
    stream = bytearray(stored_stream(data))
    lengths = len(GZIP_HEADER) + 3  # the first block's NLEN
    bad_lengths = bytes(stream[:lengths]) + b"\1\0" + bytes(stream[lengths + 2:])
    assert "invalid stored block lengths" in refusal(bad_lengths)
    crc = len(stream) - 8
    assert "incorrect data check" in refusal(bytes(stream[:crc]) + b"\0\0\0\0" + bytes(stream[crc + 4:]))
    assert "incorrect length check" in refusal(bytes(stream[:-4]) + struct.pack("<I", len(data) + 1))
    assert "after the end of its gzip stream" in refusal(bytes(stream) + b"\0")
    changed = bytearray(stream)
    changed[len(GZIP_HEADER) + 5 + 1000] ^= 0x40  # a byte inside the stored data: the crc tells
    assert "incorrect data check" in refusal(bytes(changed))
    with pytest.raises(gzip.BadGzipFile, match="CRC check failed"):
        gzip.decompress(bytes(changed))  # as gzip does


def test_every_truncation_is_refused_as_truncated() -> None:
    stream = stored_stream(os.urandom(70_000))  # two stored blocks, the empty final one, the trailer
    for cut in [*range(len(GZIP_HEADER), len(GZIP_HEADER) + 12), 65_540, 65_545, *range(len(stream) - 14,
                                                                                          len(stream))]:
        assert "truncated" in refusal(stream[:cut], [7] * 3), cut


def test_the_expansion_limit_holds_for_stored_bytes() -> None:
    stream = stored_stream(os.urandom(CHUNK + 10))
    with pytest.raises(StoreError) as caught:
        read_all(stream, limit=CHUNK)
    assert "expands beyond" in caught.value.message


class Arriving(Pieces):
    """An upload still arriving: the bytes so far, then a read that would wait for the sender."""

    def read(self, size: int = -1) -> bytes:
        if self.pos >= len(self.data):
            raise AssertionError("waited for bytes that have not arrived")
        return super().read(size)


def test_what_has_arrived_is_handed_out_without_waiting_for_more() -> None:
    """The store unpacks an upload as it arrives: the manifest in the first bytes is read, and the
    import may stand aside (no room, a refused signer) while the sender still sends."""
    data = os.urandom(CHUNK)
    stream = stored_stream(data)
    for arrived in (len(GZIP_HEADER) + 5 + 1000, len(GZIP_HEADER) + 65_540, len(GZIP_HEADER) + 65_541):
        reader = StrictGzip(Arriving(stream[:arrived], [arrived]), 1 << 30)
        got = b""
        while len(got) < 1000:
            got += bytes(reader.read(CHUNK))
        assert data.startswith(got)


def test_a_stream_of_tiny_stored_blocks_is_left_to_zlib() -> None:
    """No package build writes thousands of one-byte blocks: after a few hundred small ones zlib
    reads the rest (at its pace, not a turn of a Python loop per block), and the bytes still match."""
    data = os.urandom(20_000)
    body = b"".join(struct.pack("<BHH", 0, 1, 0xFFFE) + data[i:i + 1] for i in range(len(data)))
    stream = GZIP_HEADER + body + STORED_END + struct.pack("<II", zlib.crc32(data), len(data))
    reader = StrictGzip(Pieces(stream, []), 1 << 30)
    out = b""
    while block := reader.read(CHUNK):
        out += bytes(block)
    assert out == data
    assert reader._inflate is not None  # zlib took over
