"""The latency datagram: inference timings in a layout a C or C++ node can fill.

A datagram to the daemon's ``latency.sock`` holds one or more records back to back (the
Python reporter batches up to 32 per datagram; a C node may send one per datagram). Each
record is little-endian and packed::

    offset  size  field
    0       4     magic      "EOL1"
    4       1     version    1
    5       1     flags      bit 0: preprocess set, bit 1: infer set, bit 2: postprocess set
    6       2     name_len   length of the UTF-8 model name that follows the doubles (1..64)
    8       8     t          unix time of the inference's end, seconds (double)
    16      8     total      end-to-end latency, seconds (double)
    24      8     preprocess seconds (double; ignored unless its flag is set)
    32      8     infer      seconds (double; ignored unless its flag is set)
    40      8     postprocess seconds (double; ignored unless its flag is set)
    48      n     name       the model name, UTF-8, no terminator

In C: ``struct __attribute__((packed)) { char magic[4]; uint8_t version, flags; uint16_t
name_len; double t, total, pre, infer, post; char name[64]; }`` sent with ``sendto`` of
``48 + name_len`` bytes (on a little-endian machine, which every Jetson and x86 robot is).
"""

from __future__ import annotations

import math
import struct
from typing import Dict, List, NamedTuple, Optional, Tuple

MAGIC = b"EOL1"
VERSION = 1
HEADER = struct.Struct("<4sBBHddddd")
MAX_NAME = 64
STAGE_FLAGS = (("preprocess", 1), ("infer", 2), ("postprocess", 4))


class WireError(ValueError):
    pass


class Report(NamedTuple):
    model: str
    t: float
    total: float
    stages: Dict[str, float]


def pack(model: bytes, t: float, total: float, preprocess: Optional[float], infer: Optional[float],
         postprocess: Optional[float]) -> bytes:
    flags = 0
    if preprocess is not None:
        flags |= 1
    if infer is not None:
        flags |= 2
    if postprocess is not None:
        flags |= 4
    return HEADER.pack(
        MAGIC, VERSION, flags, len(model), t, total,
        preprocess if preprocess is not None else 0.0,
        infer if infer is not None else 0.0,
        postprocess if postprocess is not None else 0.0,
    ) + model


def _seconds(value: float, what: str) -> float:
    if not math.isfinite(value) or value < 0 or value > 3600:
        raise WireError("%s must be a finite number of seconds between 0 and 3600, got %r" % (what, value))
    return value


def unpack_all(data: bytes) -> Tuple[List[Report], Optional[str]]:
    """Every good record of a datagram, and what was wrong with the first bad one (None when
    all were good). A record with a bad value is skipped; after a record whose framing is
    broken the rest cannot be found and is lost."""
    reports: List[Report] = []
    problem: Optional[str] = None
    offset = 0
    while offset < len(data):
        try:
            end = _frame(data, offset)
        except WireError as exc:
            return reports, problem or str(exc)
        try:
            reports.append(_record(data, offset, end))
        except WireError as exc:
            problem = problem or str(exc)
        offset = end
    return reports, problem if reports or problem else "empty datagram"


def unpack(data: bytes) -> Report:
    """Parse a datagram holding exactly one record; raises :class:`WireError` saying why not."""
    end = _frame(data, 0)
    if end != len(data):
        raise WireError("name length does not match the datagram's %d bytes" % len(data))
    return _record(data, 0, end)


def _frame(data: bytes, offset: int) -> int:
    """Check a record's framing; return where it ends."""
    if len(data) - offset < HEADER.size + 1:
        raise WireError("record of %d bytes is shorter than the %d-byte header plus a name"
                        % (len(data) - offset, HEADER.size))
    magic, version, _, name_len = HEADER.unpack_from(data, offset)[:4]
    if magic != MAGIC:
        raise WireError("bad magic %r (expected %r)" % (magic, MAGIC))
    if version != VERSION:
        raise WireError("wire version %d is not supported (this runtime reads %d)" % (version, VERSION))
    end = offset + HEADER.size + int(name_len)
    if not 1 <= name_len <= MAX_NAME or end > len(data):
        raise WireError("name length %d does not fit the datagram's %d bytes" % (name_len, len(data)))
    return end


def _record(data: bytes, offset: int, end: int) -> Report:
    _, _, flags, _, t, total, pre, infer, post = HEADER.unpack_from(data, offset)
    try:
        model = data[offset + HEADER.size:end].decode("utf-8")
    except UnicodeDecodeError:
        raise WireError("the model name is not UTF-8") from None
    if not math.isfinite(t):
        raise WireError("timestamp is not finite")
    stages = {"total": _seconds(total, "total")}
    for (name, bit), value in zip(STAGE_FLAGS, (pre, infer, post)):
        if flags & bit:
            stages[name] = _seconds(value, name)
    return Report(model, t, stages["total"], stages)
