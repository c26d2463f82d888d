"""Calibration (and accuracy) input data from ``.npy`` / ``.npz`` files or a folder of them or of
images, checked against the model's inputs before any work starts.

A ``.npy`` feeds a single-input model; a ``.npz`` holds one array per input name. An array may
hold one sample (with or without the batch axis), many stacked along the batch axis, or many
whole inputs stacked on a new first axis; they are split into batches the model accepts. A scalar
input takes a 0-d array or a 1-D array of one value per sample. Data of the wrong shape is refused
with the input's name, its declared dimensions and the shape found.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Sequence, Tuple

from device_runtime.jobs.kinds.base import JobFailed
from device_runtime.jobs.kinds.images import IMAGE_SUFFIXES, UNSUPPORTED_IMAGES, preprocess_image, read_image
from device_runtime.jobs.kinds.onnx_io import Dim

InputDecl = Tuple[str, Sequence[Dim], str]  # name, dims, numpy dtype
DATA_SUFFIXES = (".npy", ".npz")


def _fixed(dim: Dim) -> bool:
    return isinstance(dim, int) and dim > 0


def split_batches(array: Any, name: str, dims: Sequence[Dim], dtype: str, source: str,
                  whole: bool = False) -> List[Any]:
    """``array`` -> batches shaped for the input (see module docstring)."""
    shape = tuple(array.shape)
    if not dims and array.ndim <= 1:  # a scalar input (int64 thresholds, counts): one value per sample
        if array.dtype.kind not in "fiub":
            raise JobFailed("data for input %r in %s has type %s; numbers are needed" % (name, source, array.dtype))
        flat = array.astype(dtype).reshape(-1)
        return [flat[i : i + 1].reshape(()) for i in range(flat.shape[0])]
    if dims and array.ndim == len(dims) + 1:  # one whole input per item of the first axis
        first = dims[0]
        if isinstance(first, int) and first > 0:
            return [batch for item in array for batch in split_batches(item, name, dims, dtype, source)]
        # A dynamic first dimension may be a sequence, not a batch: each item is one sample as it is.
        return [split_batches(item, name, dims, dtype, source, whole=True)[0] for item in array]
    if dims and array.ndim == len(dims) - 1:
        array = array[None]
    bad = dims and (array.ndim != len(dims) or any(
        _fixed(want) and got != want for want, got in zip(dims[1:], array.shape[1:])
    ))
    if bad:
        raise JobFailed("data for input %r in %s has shape %s, but the input is %s: give arrays shaped like the "
                        "input (samples stacked on the first axis)" % (name, source, list(shape), list(dims)))
    if array.dtype.kind not in "fiub":
        raise JobFailed("data for input %r in %s has type %s; numbers are needed" % (name, source, array.dtype))
    array = array.astype(dtype)
    if whole:
        return [array]
    first = dims[0] if dims else None
    step = first if isinstance(first, int) and first > 0 else 1
    if array.shape[0] % step:
        raise JobFailed("data for input %r in %s has %d samples, not a multiple of the model's fixed batch %d"
                        % (name, source, array.shape[0], step))
    return [array[i : i + step] for i in range(0, array.shape[0], step)]


def _files(path: str) -> List[str]:
    if not os.path.exists(path):
        raise JobFailed("the data %s does not exist on the device: upload it or check the path" % path)
    if not os.path.isdir(path):
        return [path]
    names = sorted(os.listdir(path))
    usable = [os.path.join(path, n) for n in names if n.lower().endswith(DATA_SUFFIXES + IMAGE_SUFFIXES)]
    if not usable:
        unsupported = [n for n in names if n.lower().endswith(UNSUPPORTED_IMAGES)]
        hint = (" (%d JPEG/BMP/TIFF images found: convert them to PNG, e.g. mogrify -format png *.jpg)"
                % len(unsupported)) if unsupported else ""
        raise JobFailed("the folder %s holds no .npy, .npz, .png, .ppm or .pgm files%s" % (path, hint))
    return usable


def load_samples(
    path: str, inputs: Sequence[InputDecl], preprocess: Mapping[str, Any], max_samples: int
) -> List[Dict[str, Any]]:
    """Up to ``max_samples`` feeds (input name -> array)."""
    import numpy as np

    samples: List[Dict[str, Any]] = []
    names = [name for name, _, _ in inputs]
    for file in _files(path):
        if len(samples) >= max_samples:
            break
        lowered = file.lower()
        if lowered.endswith(IMAGE_SUFFIXES) or lowered.endswith(".npy"):
            if len(inputs) != 1:
                raise JobFailed("%s feeds one input but the model has %d (%s): use .npz files with one array per "
                                "input name" % (file, len(inputs), ", ".join(names)))
            name, dims, dtype = inputs[0]
            if lowered.endswith(".npy"):
                array = _load(np, file)
            else:
                array = preprocess_image(read_image(file), dims, preprocess)
            samples.extend({name: batch} for batch in split_batches(array, name, dims, dtype, file))
            continue
        archive = _load(np, file)
        missing = [name for name in names if name not in archive]
        if missing:
            raise JobFailed("%s has arrays %s but the model's inputs are %s (missing: %s)"
                            % (file, sorted(archive.files), names, ", ".join(missing)))
        per_input = {name: split_batches(archive[name], name, dims, dtype, file) for name, dims, dtype in inputs}
        counts = {len(batches) for batches in per_input.values()}
        if len(counts) != 1:
            raise JobFailed("%s holds different sample counts per input; give each input the same count" % file)
        samples.extend({name: per_input[name][i] for name in names} for i in range(counts.pop()))
    if not samples:
        raise JobFailed("no samples found in %s" % path)
    return samples[:max_samples]


def _load(np: Any, file: str) -> Any:
    try:
        return np.load(file, allow_pickle=False)
    except Exception as exc:
        raise JobFailed("cannot read %s as NumPy data (%s): save it with numpy.save / numpy.savez"
                        % (file, str(exc)[:200])) from None
