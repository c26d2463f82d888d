"""Turning what a person types into job specs: shapes, profiles, sweeps and device paths.

edgectl and the Optimize page share these parsers so both refuse the same malformed input with
the same sentence (what is wrong, and an example of what is right).
"""

from __future__ import annotations

import os
from pathlib import Path

from console.core.devices.session import DeviceSession
from console.core.settings import DeviceEntry
from console.core.transfers.files import stage_file
from device_runtime.protocol import TensorInfo, ValidateReport


class SpecError(ValueError):
    """Input that cannot become a job spec; the message says what to write instead."""


SHAPE_EXAMPLE = "image:1x3x320x320"
PROFILE_EXAMPLE = "image:1x3x320x320,4x3x320x320,8x3x320x320"


def _dims(text: str, what: str) -> list[int]:
    parts = text.lower().split("x")
    dims: list[int] = []
    for raw in parts:
        part = raw.strip()
        if not part.isdigit() or int(part) <= 0:
            raise SpecError("%s: %r is not a positive whole number; dimensions are joined by 'x', e.g. %s"
                            % (what, part, SHAPE_EXAMPLE))
        dims.append(int(part))
    return dims


def _split_name(text: str, what: str, example: str) -> tuple[str, str]:
    # Input names may contain ':' (``input:0``); the dimensions never do.
    name, sep, dims = text.rpartition(":")
    if not sep or not name.strip():
        raise SpecError("%s %r needs an input name and its dimensions, e.g. %s" % (what, text, example))
    if not dims.strip():
        raise SpecError("%s %r has no dimensions after the ':', e.g. %s" % (what, text, example))
    return name.strip(), dims.strip()


def parse_shape(text: str, what: str = "--shape") -> tuple[str, list[int]]:
    """``image:1x3x320x320`` -> ("image", [1, 3, 320, 320]); ``what`` names the field in errors."""
    name, dims = _split_name(text, what, SHAPE_EXAMPLE)
    return name, _dims(dims, "%s %r" % (what, text))


def parse_shapes(texts: list[str] | None) -> dict[str, list[int]]:
    shapes: dict[str, list[int]] = {}
    for text in texts or []:
        name, dims = parse_shape(text)
        if name in shapes:
            raise SpecError("--shape gives input %r twice; give each input once" % name)
        shapes[name] = dims
    return shapes


def parse_profile(text: str) -> tuple[str, str]:
    """``image:1x3x64x64,4x3x64x64,8x3x64x64`` (min, opt, max) or ``image:1x3x64x64`` (fixed)
    -> (name, "MINxDIMS,OPTxDIMS,MAXxDIMS") in the form a build spec carries."""
    name, body = _split_name(text, "--shape", PROFILE_EXAMPLE)
    what = "--shape %r" % text
    shapes = [_dims(part, what) for part in body.split(",")]
    if len(shapes) == 1:
        shapes = shapes * 3
    if len(shapes) != 3:
        raise SpecError("%s: give one shape, or three (min,opt,max) separated by commas, e.g. %s"
                        % (what, PROFILE_EXAMPLE))
    low, opt, high = shapes
    if not len(low) == len(opt) == len(high):
        raise SpecError("%s: min, opt and max must have the same number of dimensions" % what)
    for i, (a, b, c) in enumerate(zip(low, opt, high, strict=True)):
        if not a <= b <= c:
            raise SpecError("%s: dimension %d must satisfy min <= opt <= max (got %d, %d, %d)" % (what, i, a, b, c))
    return name, ",".join("x".join(str(d) for d in shape) for shape in shapes)


def parse_profiles(texts: list[str] | None) -> dict[str, str]:
    profiles: dict[str, str] = {}
    for text in texts or []:
        name, value = parse_profile(text)
        if name in profiles:
            raise SpecError("--shape gives input %r twice; give each input once" % name)
        profiles[name] = value
    return profiles


def _numbers(text: str, what: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise SpecError("%s %r: give one number or one per channel separated by commas, e.g. 0.485,0.456,0.406"
                        % (what, text)) from None
    if len(values) not in (1, 3):
        raise SpecError("%s %r: give one number or three (one per channel), not %d" % (what, text, len(values)))
    return values


def parse_preprocess(size: str | None = None, layout: str | None = None, channels: str | None = None,
                     scale: str | None = None, mean: str | None = None, std: str | None = None) -> dict[str, object]:
    """Image preprocessing for calibration: ``size`` "HxW", ``layout`` NCHW/NHWC, ``channels`` RGB/BGR,
    ``scale`` (pixels are multiplied by it first: 1/255 when not given, 1 for 0-255 models), then per-channel
    ``mean`` and ``std``. Only what is given goes into the spec (the device's defaults do the rest)."""
    out: dict[str, object] = {}
    if size:
        dims = _dims(size, "--size %r" % size)
        if len(dims) != 2:
            raise SpecError("--size %r: give the image height and width as HxW, e.g. 640x640" % size)
        out["size"] = dims
    if layout:
        if layout.upper() not in ("NCHW", "NHWC"):
            raise SpecError("--layout %r: NCHW (channels first, PyTorch exports) or NHWC (TensorFlow)" % layout)
        out["layout"] = layout.upper()
    if channels:
        if channels.upper() not in ("RGB", "BGR"):
            raise SpecError("--channels %r: RGB, or BGR for models trained on OpenCV-loaded images" % channels)
        out["channels"] = channels.upper()
    if scale:
        value = _numbers(scale, "--scale")
        if len(value) != 1 or value[0] <= 0:
            raise SpecError("--scale %r: one positive number, e.g. 0.00392157 (1/255) or 1" % scale)
        out["scale"] = value[0]
    if mean:
        out["mean"] = _numbers(mean, "--mean")
    if std:
        values = _numbers(std, "--std")
        if any(v <= 0 for v in values):
            raise SpecError("--std %r: standard deviations must be positive" % std)
        out["std"] = values
    return out


def parse_concurrency(text: str | None) -> list[int]:
    """``1,2,4`` -> [1, 2, 4] (sorted, without repeats)."""
    if not text:
        return []
    values: set[int] = set()
    for raw in text.split(","):
        part = raw.strip()
        if not part.isdigit() or not 1 <= int(part) <= 64:
            raise SpecError("--concurrency: %r is not a stream count from 1 to 64; write e.g. 1,2,4" % part)
        values.add(int(part))
    return sorted(values)


def dynamic_inputs(inputs: list[TensorInfo]) -> dict[str, list[str]]:
    """Inputs whose shape has a symbolic or unknown dimension -> the names of those dims."""
    out: dict[str, list[str]] = {}
    for tensor in inputs:
        symbols = [str(d) if isinstance(d, str) else "?" for d in tensor.shape if not isinstance(d, int) or d <= 0]
        if symbols:
            out[tensor.name] = symbols
    return out


def missing_shapes(report: ValidateReport, shapes: dict[str, list[int]]) -> str | None:
    """A sentence naming dynamic inputs that have no explicit shape, or None when all are set."""
    missing = {name: dims for name, dims in dynamic_inputs(report.inputs).items() if name not in shapes}
    if not missing:
        return None
    named = "; ".join("%s has symbolic dimension(s) %s" % (name, ", ".join(dims)) for name, dims in missing.items())
    example = next(iter(missing))
    return "%s. Give a shape for each, e.g. --shape %s:1x3x320x320" % (named, example)


def default_shapes(report: ValidateReport, batch: int = 1) -> dict[str, list[int]]:
    """A concrete shape for every input: symbolic dims become ``batch`` (first) or stay unknown."""
    shapes: dict[str, list[int]] = {}
    for tensor in report.inputs:
        dims: list[int] = []
        for i, d in enumerate(tensor.shape):
            if isinstance(d, int) and d > 0:
                dims.append(d)
            elif i == 0:
                dims.append(batch)
            else:
                break
        else:
            shapes[tensor.name] = dims
    return shapes


def sends_files(entry: DeviceEntry) -> bool:
    """A file named on this computer must be sent to ``entry`` before a job there can read it."""
    return entry.kind != "local"


def local_input(entry: DeviceEntry, path: str | os.PathLike[str]) -> Path:
    """A file on this computer that is to be sent to ``entry``; SpecError when it cannot be."""
    local = Path(path).expanduser()
    if local.is_dir():
        raise SpecError("%s is a folder: send a single .npz/.npy file (or an archive) to %s"
                        % (local, entry.display_name))
    if not local.is_file():
        raise SpecError("%s does not exist; check the path" % local)
    return local


def device_path(entry: DeviceEntry, path: str | os.PathLike[str], must_exist: bool = True,
                session: DeviceSession | None = None) -> str:
    """The path a job on ``entry`` should use for a file the user named on this computer.

    On the built-in local device the device's files are the user's files, so this is the
    absolute path. An SSH device gets an input file sent to it (``session`` is needed for that)
    and its path there; an output there is a path on the device, given absolute.
    """
    local = Path(path).expanduser()
    if entry.kind != "local":
        if not must_exist:
            if not str(path).startswith("/"):
                raise SpecError("on %s an output is a path on the device: give it absolute (e.g. /home/%s/%s)"
                                % (entry.display_name, entry.user or "user", local.name))
            return str(path)
        if session is None:
            raise SpecError("%s is reached over %s and %s must be sent to it first: run the job with "
                            "edgectl --device %s, which sends it" % (entry.display_name, entry.kind, local, entry.name))
        return stage_file(session, local_input(entry, local))
    absolute = local.resolve() if local.exists() else Path(os.path.abspath(local))
    if must_exist and not absolute.exists():
        raise SpecError("%s does not exist; check the path" % absolute)
    if not must_exist and not absolute.parent.is_dir():
        raise SpecError("the folder %s does not exist; create it or choose another output path" % absolute.parent)
    return str(absolute)
