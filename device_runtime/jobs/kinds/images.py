"""Read calibration images without extra packages: PNG (8-bit, non-interlaced) and binary
PPM/PGM, decoded with zlib and numpy; plus the declared preprocessing (resize, scale,
mean/std, channel order, layout). JPEG would need a codec the device runtime does not ship:
such files get a message saying to convert them (e.g. ``mogrify -format png *.jpg``).
"""

from __future__ import annotations

import struct
import zlib
from typing import Any, List, Mapping, Optional, Sequence, Tuple

from device_runtime.jobs.kinds.base import JobFailed

IMAGE_SUFFIXES = (".png", ".ppm", ".pgm", ".pnm")
UNSUPPORTED_IMAGES = (".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _unfilter(data: bytes, width: int, height: int, bpp: int) -> bytearray:
    stride = width * bpp
    out = bytearray(height * stride)
    prior = bytearray(stride)
    pos = 0
    for y in range(height):
        kind = data[pos]
        row = bytearray(data[pos + 1 : pos + 1 + stride])
        pos += 1 + stride
        if kind == 1:
            for x in range(bpp, stride):
                row[x] = (row[x] + row[x - bpp]) & 0xFF
        elif kind == 2:
            row = bytearray((a + b) & 0xFF for a, b in zip(row, prior))
        elif kind == 3:
            for x in range(stride):
                left = row[x - bpp] if x >= bpp else 0
                row[x] = (row[x] + ((left + prior[x]) >> 1)) & 0xFF
        elif kind == 4:
            for x in range(stride):
                a = row[x - bpp] if x >= bpp else 0
                b = prior[x]
                c = prior[x - bpp] if x >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                row[x] = (row[x] + pred) & 0xFF
        elif kind != 0:
            raise ValueError("bad PNG filter type %d" % kind)
        out[y * stride : (y + 1) * stride] = row
        prior = row
    return out


def read_png(path: str) -> Any:
    import numpy as np

    with open(path, "rb") as handle:
        data = handle.read()
    if not data.startswith(_PNG_MAGIC):
        raise ValueError("not a PNG file")
    pos, idat, palette = 8, [], None
    width = height = depth = color = interlace = 0
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = np.frombuffer(body, dtype=np.uint8).reshape(-1, 3)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if depth != 8 or interlace or color not in _CHANNELS:
        raise ValueError("only 8-bit, non-interlaced PNG is supported (this one: %d-bit, interlace %d)"
                         % (depth, interlace))
    channels = _CHANNELS[color]
    pixels = _unfilter(zlib.decompress(b"".join(idat)), width, height, channels)
    image = np.frombuffer(bytes(pixels), dtype=np.uint8).reshape(height, width, channels)
    if color == 3:
        if palette is None:
            raise ValueError("palette PNG without a palette")
        image = palette[image[:, :, 0]]
    return image


def read_pnm(path: str) -> Any:
    import numpy as np

    with open(path, "rb") as handle:
        data = handle.read()
    tokens: List[bytes] = []
    pos = 0
    while len(tokens) < 4:
        while pos < len(data) and data[pos : pos + 1].isspace():
            pos += 1
        if data[pos : pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        start = pos
        while pos < len(data) and not data[pos : pos + 1].isspace():
            pos += 1
        tokens.append(data[start:pos])
    magic, width, height, maxval = tokens[0], int(tokens[1]), int(tokens[2]), int(tokens[3])
    if magic not in (b"P5", b"P6"):
        raise ValueError("only binary PGM (P5) and PPM (P6) are supported")
    channels = 3 if magic == b"P6" else 1
    dtype = ">u2" if maxval > 255 else "u1"
    body = np.frombuffer(data, dtype=dtype, count=width * height * channels, offset=pos + 1)
    image = body.reshape(height, width, channels).astype(np.float32)
    return (image * (255.0 / maxval)).astype(np.uint8)


def read_image(path: str) -> Any:
    lowered = path.lower()
    try:
        return read_png(path) if lowered.endswith(".png") else read_pnm(path)
    except (ValueError, IndexError, OSError, zlib.error, struct.error) as exc:
        raise JobFailed("cannot read the calibration image %s (%s): use 8-bit PNG or binary PPM/PGM"
                        % (path, exc)) from None


def resize_bilinear(image: Any, height: int, width: int) -> Any:
    import numpy as np

    src_h, src_w = image.shape[:2]
    if (src_h, src_w) == (height, width):
        return image.astype(np.float32)
    ys = np.clip((np.arange(height) + 0.5) * src_h / height - 0.5, 0, src_h - 1)
    xs = np.clip((np.arange(width) + 0.5) * src_w / width - 0.5, 0, src_w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, src_h - 1), np.minimum(x0 + 1, src_w - 1)
    wy, wx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    img = image.astype(np.float32)
    top = img[y0][:, x0] * (1 - wx) + img[y0][:, x1] * wx
    bottom = img[y1][:, x0] * (1 - wx) + img[y1][:, x1] * wx
    return top * (1 - wy) + bottom * wy


def _floats(value: Any, count: int, default: float, what: str) -> List[float]:
    if value is None:
        return [default] * count
    values = [float(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
    if len(values) == 1:
        values *= count
    if len(values) != count:
        raise JobFailed("preprocess %s needs 1 or %d values, got %d" % (what, count, len(values)))
    return values


def preprocess_image(image: Any, dims: Sequence[Any], options: Mapping[str, Any]) -> Any:
    """One image -> one batch-1 sample for an input with ``dims`` (NCHW or NHWC).

    options: ``size`` [H, W] (default: the input's own), ``scale`` (default 1/255), ``mean``
    and ``std`` per channel (after scaling), ``channels`` "RGB" or "BGR", ``layout``
    "NCHW" or "NHWC" (default: NCHW when dimension 1 is 1 or 3).
    """
    import numpy as np

    layout = str(options.get("layout") or ("NCHW" if len(dims) == 4 and dims[1] in (1, 3) else "NHWC")).upper()
    if layout not in ("NCHW", "NHWC") or len(dims) != 4:
        raise JobFailed("images feed 4-D inputs laid out NCHW or NHWC; this input is %s" % list(dims))
    c_dim, h_dim, w_dim = (dims[1], dims[2], dims[3]) if layout == "NCHW" else (dims[3], dims[1], dims[2])
    size: Optional[Tuple[int, int]] = None
    if options.get("size"):
        size = (int(options["size"][0]), int(options["size"][1]))
    elif isinstance(h_dim, int) and isinstance(w_dim, int) and h_dim > 0 and w_dim > 0:
        size = (h_dim, w_dim)
    if size is None:
        raise JobFailed("the input's height and width are dynamic, so the images' size is unknown: give it "
                        "(edgectl quantize --size HxW, e.g. --size 640x640; on the Optimize page: Image size)")
    channels = c_dim if isinstance(c_dim, int) and c_dim > 0 else 3
    if image.shape[2] == 4:
        image = image[:, :, :3]
    if channels == 3 and image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    elif channels == 1 and image.shape[2] >= 3:
        image = image[:, :, :3].mean(axis=2, keepdims=True)
    if str(options.get("channels", "RGB")).upper() == "BGR":
        image = image[:, :, ::-1]
    data = resize_bilinear(image, size[0], size[1]) * float(options.get("scale", 1.0 / 255.0))
    data = (data - np.array(_floats(options.get("mean"), channels, 0.0, "mean"), dtype=np.float32)) / np.array(
        _floats(options.get("std"), channels, 1.0, "std"), dtype=np.float32
    )
    if layout == "NCHW":
        data = data.transpose(2, 0, 1)
    return data[None].astype(np.float32)
