"""Write small PNG and PPM files for calibration tests (PNG with a chosen row filter)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np


def _filter_row(kind: int, row: np.ndarray, prior: np.ndarray, bpp: int) -> bytes:
    r = row.astype(np.int32)
    p = prior.astype(np.int32)
    left = np.concatenate([np.zeros(bpp, np.int32), r[:-bpp]])
    up_left = np.concatenate([np.zeros(bpp, np.int32), p[:-bpp]])
    if kind == 0:
        out = r
    elif kind == 1:
        out = r - left
    elif kind == 2:
        out = r - p
    elif kind == 3:
        out = r - (left + p) // 2
    else:
        pa, pb, pc = np.abs(p - up_left), np.abs(left - up_left), np.abs(left + p - 2 * up_left)
        pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, p, up_left))
        out = r - pred
    return bytes([kind]) + (out & 0xFF).astype(np.uint8).tobytes()


def write_png(path: Path, image: np.ndarray, filter_type: int = 0) -> None:
    height, width, channels = image.shape
    color = {1: 0, 3: 2, 4: 6}[channels]
    flat = image.reshape(height, width * channels)
    prior = np.zeros(width * channels, np.uint8)
    raw = b""
    for y in range(height):
        raw += _filter_row(filter_type % 5, flat[y], prior, channels)
        prior = flat[y]

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))


def write_ppm(path: Path, image: np.ndarray) -> None:
    height, width, _ = image.shape
    path.write_bytes(b"P6\n# test\n%d %d\n255\n" % (width, height) + image.astype(np.uint8).tobytes())
