"""Reading a package archive safely: one pass, bounded, nothing trusted before it is checked.

A package is a gzip'd tar whose first member is ``manifest.json`` and whose optional second
member is ``manifest.sig``; every other member is a regular file the manifest lists with its
size and sha256. Refused: links of any kind, device files, FIFOs, sparse files, absolute or
``..`` paths, duplicates, unlisted or missing files, a size other than the manifest's, more
than the expansion limit, a truncated stream and any byte after the archive's end.
"""

from __future__ import annotations

import io
import os
import struct
import tarfile
import zlib
from typing import Any, Callable, Dict, List, Optional, Protocol, Set, Tuple, Union

from device_runtime import fileio
from device_runtime.package_format.errors import Code, StoreError
from device_runtime.package_format.hashing import BackgroundSha256
from device_runtime.package_format.manifest import (
    MANIFEST_FILE,
    MAX_FILES,
    MAX_MANIFEST_BYTES,
    SIGNATURE_FILE,
    Manifest,
    check_path,
)
from device_runtime.package_format.signing import MAX_SIGNATURE_BYTES

CHUNK = 1 << 20
# Tar headers, padding and the end-of-archive records on top of the files' own bytes.
TAR_OVERHEAD = 1 << 20
# Zero padding allowed after the tar archive's end (tar pads to a 10 KB record); inflating more
# is work an attacker chooses, so it stops here.
MAX_TRAILER = 1 << 20
# The most the tar layer reads in one go for a header (a pax record, a GNU long name): a bigger
# one is not something package build writes.
MAX_HEADER_READ = 1 << 20
# The only gzip header a package may have: deflate, no flags, no time, no extra flags, OS
# unknown. zlib ignores the time, flags and OS bytes, so without this a changed header byte
# would go unnoticed; a fixed header also makes the same files give the same archive.
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
# The most a deflate block may refer back to: zlib is primed with this much of what came before.
WINDOW = 1 << 15
# package build frames files in stored blocks of 64 KB; a smaller one ends a tar header, a small file
# or a file's last bytes. After this many small ones, zlib reads the rest (a stream of tiny blocks
# is no package build wrote, and zlib reads it at its own pace, not a loop turn per block).
SMALL_BLOCK = 4096
MAX_SMALL_BLOCKS = 256

Progress = Callable[[float, str], None]
Block = Union[bytes, memoryview]  # output: a view of the input where it is the bytes as they are


class ByteSource(Protocol):
    """Where a package's bytes come from: a file, or an upload still arriving."""

    def read(self, __size: int = ...) -> bytes: ...

    def close(self) -> None: ...


def _bad(message: str) -> StoreError:
    return StoreError(Code.BAD_PACKAGE, "the package %s" % message)


class StrictGzip(io.RawIOBase):
    """A gzip decompressor that counts output and refuses trailing or missing bytes.

    Output is handed out in blocks of up to a megabyte (``read`` slices at an offset), so a 100 MB
    member is not copied again for every small read the tar layer makes.

    A package whose files do not compress is a run of deflate's stored blocks (``package build``
    frames them itself): their bytes are taken from the input as they are, and only the crc32
    the gzip trailer checks is computed, instead of zlib copying them one by one through its
    window (a third of the time a 300 MB deploy spent unpacking). From the first block that is
    not a stored one to the end of the stream, zlib inflates, primed with the last 32 KB handed
    out, which that block may refer back to. A gzip header other than package build's (allowed
    with ``strict_header`` False) is read by zlib alone, as any gzip reader would."""

    def __init__(self, raw: ByteSource, limit: int, strict_header: bool = True) -> None:
        super().__init__()
        self._raw = raw
        self._strict_header = strict_header
        self._gzip: Any = None  # zlib's whole-gzip reader, for a header package build does not write
        self._inflate: Any = None  # zlib's raw inflater, from the first block that is not stored
        self._input = b""  # compressed bytes read but not yet used (or not yet fed to zlib)
        self._in_pos = 0
        self._block_left = 0  # bytes of the current stored block not yet handed out
        self._last_block = False  # the current (or last) block is the stream's final one
        self._small_blocks = 0
        self._crc = 0
        self._recent: List[Block] = []  # the newest output, at least 32 KB of it: the window zlib may need
        self._buffer: Block = b""
        self._pos = 0  # bytes of _buffer already handed out
        self._eof = False
        self._started = False  # the header is checked before the first byte is inflated
        self.limit = limit
        self.produced = 0

    def readable(self) -> bool:
        return True

    def read(self, size: Optional[int] = -1) -> Block:
        while self._pos >= len(self._buffer) and not self._eof:
            self._fill()
        left = len(self._buffer) - self._pos
        if size is None or size < 0 or size >= left:
            out = self._buffer[self._pos:] if self._pos else self._buffer
            self._buffer, self._pos = b"", 0
            return out
        out = self._buffer[self._pos:self._pos + size]
        self._pos += size
        return out

    def readinto(self, target: Any) -> int:
        data = self.read(len(target))
        target[:len(data)] = data
        return len(data)

    def _header(self) -> bytes:
        head = b""
        while len(head) < len(GZIP_HEADER):
            more = self._raw.read(len(GZIP_HEADER) - len(head))
            if not more:
                break
            head += more
        if len(head) < len(GZIP_HEADER) or head[:3] != GZIP_HEADER[:3]:
            return head  # zlib says what is wrong with it
        if self._strict_header and head != GZIP_HEADER:
            raise _bad("has a gzip header other than the one edgectl package build writes (bytes %s): it was "
                       "changed, or made by another tool. Build it again with edgectl package build."
                       % head.hex())
        return head

    def _fill(self) -> None:
        if not self._started:
            self._started = True
            head = self._header()
            if head != GZIP_HEADER:
                self._gzip = zlib.decompressobj(wbits=31)
                self._input = head
        if self._gzip is not None:
            self._fill_gzip()
        elif self._inflate is not None:
            self._fill_inflate()
        else:
            self._fill_stored()

    def _fill_gzip(self) -> None:
        """zlib reads the whole gzip stream, header and trailer included."""
        if self._gzip.eof:
            if self._gzip.unused_data or self._raw.read(1):
                raise _bad("has bytes after the end of its gzip stream (it was extended or joined)")
            self._eof = True
            return
        data = self._input or self._raw.read(CHUNK)
        if not data:
            raise _bad("is truncated (the gzip stream ends early): copy it again")
        try:
            out = self._gzip.decompress(data, CHUNK)
        except zlib.error as exc:
            raise _bad("is not a valid gzip stream (%s): it is damaged" % exc) from None
        self._input = self._gzip.unconsumed_tail
        self._count(out)
        self._buffer, self._pos = out, 0

    def _fill_stored(self) -> None:
        """Up to CHUNK bytes from stored blocks, as many as the input read so far holds; the
        trailer once the final block is done."""
        pieces: List[Block] = []
        got = 0
        while got < CHUNK:
            if pieces and len(self._input) - self._in_pos < 5:
                break  # hand out what is here before waiting for more (a follower waits for bytes to arrive)
            if self._block_left == 0:
                if self._last_block:
                    break
                kind = self._peek()
                # Compressed (or a stored block with stray bits), or a run of tiny stored blocks that
                # would cost a turn of this loop for a few bytes each: zlib inflates from here.
                if kind > 1 or self._small_blocks > MAX_SMALL_BLOCKS:
                    if pieces:
                        break  # hand out what is ready first
                    self._start_inflating()
                    self._fill_inflate()
                    return
                head = self._take(5)
                length, check = struct.unpack_from("<HH", head, 1)
                if length ^ check != 0xFFFF:
                    raise _bad("is not a valid gzip stream (invalid stored block lengths): it is damaged")
                self._last_block = kind == 1
                self._block_left = length
                self._small_blocks += length < SMALL_BLOCK
                continue
            if self._in_pos >= len(self._input):
                self._more()
            size = min(self._block_left, len(self._input) - self._in_pos, CHUNK - got)
            pieces.append(memoryview(self._input)[self._in_pos:self._in_pos + size])
            self._in_pos += size
            self._block_left -= size
            got += size
        if not pieces:
            self._trailer()
            return
        out = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        self._count(out)
        self._buffer, self._pos = out, 0

    def _start_inflating(self) -> None:
        recent = b"".join(self._recent)[-WINDOW:]
        self._inflate = zlib.decompressobj(-zlib.MAX_WBITS, zdict=recent) if recent else \
            zlib.decompressobj(-zlib.MAX_WBITS)
        self._input, self._in_pos = self._input[self._in_pos:], 0
        self._recent = []

    def _fill_inflate(self) -> None:
        """zlib inflates the rest of the deflate stream; the trailer is checked here as for stored blocks."""
        while True:
            if self._inflate.eof:
                self._input, self._in_pos = self._inflate.unused_data, 0
                self._trailer()
                return
            data = self._input or self._raw.read(CHUNK)
            if not data:
                raise _bad("is truncated (the gzip stream ends early): copy it again")
            try:
                out = self._inflate.decompress(data, CHUNK)
            except zlib.error as exc:
                raise _bad("is not a valid gzip stream (%s): it is damaged" % exc) from None
            self._input = self._inflate.unconsumed_tail
            if out:
                self._count(out)
                self._buffer, self._pos = out, 0
                return

    def _trailer(self) -> None:
        crc, size = struct.unpack("<II", self._take(8))
        if crc != self._crc & 0xFFFFFFFF:
            raise _bad("is not a valid gzip stream (incorrect data check): it is damaged")
        if size != self.produced & 0xFFFFFFFF:
            raise _bad("is not a valid gzip stream (incorrect length check): it is damaged")
        if self._in_pos < len(self._input) or self._raw.read(1):
            raise _bad("has bytes after the end of its gzip stream (it was extended or joined)")
        self._eof = True

    def _more(self) -> None:
        self._input, self._in_pos = self._raw.read(CHUNK), 0
        if not self._input:
            raise _bad("is truncated (the gzip stream ends early): copy it again")

    def _peek(self) -> int:
        if self._in_pos >= len(self._input):
            self._more()
        return self._input[self._in_pos]

    def _take(self, size: int) -> bytes:
        got = b""
        while len(got) < size:
            if self._in_pos >= len(self._input):
                self._more()
            step = min(size - len(got), len(self._input) - self._in_pos)
            got += self._input[self._in_pos:self._in_pos + step]
            self._in_pos += step
        return got

    def _count(self, out: Block) -> None:
        self.produced += len(out)
        if self.produced > self.limit:
            raise _bad("expands beyond the %d MB limit" % (self.limit // 1_000_000))
        if self._gzip is None:
            self._crc = zlib.crc32(out, self._crc)
            if self._inflate is None:
                self._recent.append(out)
                while len(self._recent) > 1 and sum(len(b) for b in self._recent[1:]) >= WINDOW:
                    self._recent.pop(0)

    def finish(self) -> None:
        """After the tar end: only zero padding may remain (at most MAX_TRAILER bytes, so a
        stream of gigabytes of zeros costs no more than that), then the stream must end exactly."""
        trailer = 0
        while True:
            rest = bytes(self._buffer[self._pos:])
            if rest.strip(b"\0"):
                raise _bad("has data after the end of its tar archive")
            trailer += len(rest)
            if trailer > MAX_TRAILER:
                raise _bad("has more than %d KB of padding after the end of its tar archive (a tar record "
                           "needs %d bytes at most): it was extended" % (MAX_TRAILER >> 10, tarfile.RECORDSIZE))
            self._buffer, self._pos = b"", 0
            if self._eof:
                return
            self._fill()


class ForwardReader:
    """The tar layer's view of the gzip stream: exact reads for headers and forward seeks only.

    tarfile reads headers from it in its random-access mode, and member data is taken straight
    from the decompressor's blocks (:meth:`block`): tarfile's stream mode copied every byte of
    a 300 MB member three times through its buffers. Seeking back is refused: a package is read
    once, front to back."""

    def __init__(self, source: StrictGzip) -> None:
        self._source = source
        self._pos = 0

    def tell(self) -> int:
        return self._pos

    def block(self, size: int) -> Block:
        """Up to ``size`` bytes, as the decompressor has them (empty at the end of the stream)."""
        data = self._source.read(size)
        self._pos += len(data)
        return data

    def read(self, size: Optional[int] = -1) -> bytes:
        """Exactly ``size`` bytes (fewer only at the end): tar headers, pax records, small files."""
        if size is None or size < 0 or size > MAX_HEADER_READ:
            raise OSError("a tar header or record of %s bytes (at most %d are read at once)" % (size, MAX_HEADER_READ))
        parts = []
        got = 0
        while got < size:
            data = self.block(size - got)
            if not data:
                break
            parts.append(data)
            got += len(data)
        return bytes(parts[0]) if len(parts) == 1 else b"".join(parts)

    def write(self, data: bytes) -> int:
        raise OSError("a package is read, never written, here")

    def close(self) -> None:
        """The source is closed by the PackageReader that opened it."""

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Forward only: skips a member's padding up to the next header."""
        if whence != io.SEEK_SET or offset < self._pos:
            raise OSError("the archive asks to read back (to %d from %d): a package is read front to back"
                          % (offset, self._pos))
        while self._pos < offset and self.block(min(CHUNK, offset - self._pos)):
            pass
        return self._pos


def _member_path(member: tarfile.TarInfo) -> str:
    if member.issym() or member.islnk():
        raise _bad("holds a link (%s): links are not allowed in packages" % member.name[:200])
    if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
        raise _bad("holds a device file or FIFO (%s), which is not allowed" % member.name[:200])
    if member.issparse():
        raise _bad("holds a sparse file (%s), which is not allowed" % member.name[:200])
    if not (member.isreg() or member.isdir()):
        raise _bad("holds %s of an unknown kind" % member.name[:200])
    name = member.name
    if name.startswith("/") or ".." in name.split("/"):
        raise _bad("holds a path outside the package (%s)" % name[:200])
    if member.isdir():
        return name.rstrip("/")
    if name in (MANIFEST_FILE, SIGNATURE_FILE):
        return name
    try:
        return check_path(name)
    except StoreError:
        raise _bad("holds a file with a path that is not allowed (%s)" % name[:200]) from None


class PackageReader:
    """Reads one package in a single streaming pass: :meth:`head`, then :meth:`extract`."""

    def __init__(self, path: str, max_bytes: int, source: Optional[ByteSource] = None,
                 strict_header: bool = True) -> None:
        """``source``: the package's bytes as they arrive (default: the file at ``path``).
        ``strict_header`` False reads packages written by other gzip writers (to re-sign them)."""
        self.path = path
        self.max_bytes = max_bytes
        try:
            self._file: ByteSource = source if source is not None else open(path, "rb")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise StoreError(Code.NOT_FOUND, "cannot open the package %s: %s" % (path, exc.strerror)) from None
        self._gzip = StrictGzip(self._file, max_bytes + TAR_OVERHEAD, strict_header)
        self._raw = ForwardReader(self._gzip)
        try:
            self._tar = tarfile.open(fileobj=self._raw, mode="r:")  # noqa: SIM115 - closed in close()
        except StoreError:
            self._file.close()
            raise
        except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
            self._file.close()
            raise _bad("is not a valid tar.gz archive (%s): it is damaged or truncated" % exc) from None
        self._iter = iter(self._tar)
        self._pending: Optional[tarfile.TarInfo] = None

    def close(self) -> None:
        self._tar.close()
        self._file.close()

    def __enter__(self) -> PackageReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _next(self) -> Optional[tarfile.TarInfo]:
        try:
            return next(self._iter)
        except StopIteration:
            return None
        except StoreError:
            raise
        except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
            raise _bad("is not a valid tar.gz archive (%s): it is damaged or truncated" % exc) from None

    def _read_small(self, member: tarfile.TarInfo, limit: int) -> bytes:
        if member.size > limit:
            raise _bad("holds a %s of %d bytes, over the %d byte limit" % (member.name, member.size, limit))
        self._at_data(member)
        data = self._raw.read(member.size)
        if len(data) != member.size:
            raise _bad("is truncated inside %s" % member.name)
        return data

    def head(self) -> Tuple[bytes, Optional[bytes]]:
        """The raw ``manifest.json`` (first member) and ``manifest.sig`` (second, optional)."""
        first = self._next()
        if first is None or not first.isfile() or first.name != MANIFEST_FILE:
            raise StoreError(Code.BAD_MANIFEST, "the package has no manifest.json as its first member: it was not "
                                                "built by edgectl package build, or it is damaged")
        manifest = self._read_small(first, MAX_MANIFEST_BYTES)
        second = self._next()
        if second is not None and second.isfile() and second.name == SIGNATURE_FILE:
            return manifest, self._read_small(second, MAX_SIGNATURE_BYTES)
        self._pending = second
        return manifest, None

    def extract(self, manifest: Manifest, target: Optional[str], progress: Optional[Progress] = None,
                between_files: Optional[Callable[[str], None]] = None) -> None:
        """Write every listed file under ``target`` (a fresh directory; None: only check), hashing as it goes."""
        expected: Dict[str, Tuple[int, str]] = {f.path: (f.size, f.sha256) for f in manifest.files}
        total = max(manifest.total_size, 1)
        if manifest.total_size > self.max_bytes:
            raise _bad("expands to %d MB, over the %d MB limit" % (manifest.total_size // 1_000_000,
                                                                    self.max_bytes // 1_000_000))
        seen: Set[str] = set()
        done = 0
        members = 0
        member = self._pending if self._pending is not None else self._next()
        while member is not None:
            members += 1
            if members > 4 * MAX_FILES:
                raise _bad("holds more than %d members" % (4 * MAX_FILES))
            name = _member_path(member)
            if member.isdir():
                member = self._next()
                continue
            if name in seen or name in (MANIFEST_FILE, SIGNATURE_FILE):
                raise _bad("holds %s twice" % name)
            if name not in expected:
                raise _bad("holds %s, which its manifest does not list" % name)
            size, digest = expected[name]
            if member.size != size:
                raise StoreError(Code.HASH_MISMATCH, "the package's %s is %d bytes but its manifest says %d: the "
                                                     "package is damaged" % (name, member.size, size))
            self._write(member, name, digest, target)
            seen.add(name)
            done += size
            if progress is not None:
                progress(done / total, "unpacked %s" % name)
            if between_files is not None:
                between_files(name)
            member = self._next()
        missing = sorted(set(expected) - seen)
        if missing:
            raise _bad("lacks %s, listed in its manifest" % ", ".join(missing))
        self._gzip.finish()

    def _at_data(self, member: tarfile.TarInfo) -> None:
        if self._raw.tell() != member.offset_data:
            raise _bad("is damaged: %s's data is not where its header says" % member.name[:200])

    def _write(self, member: tarfile.TarInfo, name: str, digest: str, target: Optional[str]) -> None:
        self._at_data(member)
        sha = BackgroundSha256()  # beside the inflating and writing, on another core
        written = 0
        if target is None:
            fd = os.open(os.devnull, os.O_WRONLY)
        else:
            path = os.path.join(target, name)
            fileio.make_dirs(os.path.dirname(path))
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        # Written on a thread of its own, each 8 MB handed to the disk at once: Staged.seal's fsync
        # then waits for the rest only.
        writer = fileio.BackgroundWriter(fd, writeback=target is not None)
        try:
            while written < member.size:
                block = self._raw.block(min(CHUNK, member.size - written))
                if not block:
                    break
                sha.update(block)
                written += len(block)
                writer.write(block)
            writer.close()
        finally:  # the store fsyncs what it keeps before renaming it in (Staged.seal)
            writer.stop()
            os.close(fd)
            sha.close()
        if written != member.size:
            raise _bad("is truncated inside %s" % name)
        if sha.hexdigest() != digest:
            raise StoreError(Code.HASH_MISMATCH, "the package's %s has sha256 %s but its manifest says %s: the "
                                                 "package is damaged or was changed" % (name, sha.hexdigest()[:16],
                                                                                        digest[:16]))
