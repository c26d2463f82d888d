"""Model loading, input shapes and input data shared by the kinds (worker side only).

Every failure here becomes a :class:`JobFailed` whose message names the file or input and says
what to do: a corrupt model, a dynamic dimension without a shape, data of the wrong shape.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from device_runtime.engines.ort_session import CPU, pick_providers
from device_runtime.engines.ort_session import open_session as ort_session
from device_runtime.jobs.kinds.base import JobFailed

Dim = Union[int, str, None]
Shape = Tuple[int, ...]

# ONNX Runtime's type strings -> numpy dtype names.
ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(int16)": "int16",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(bool)": "bool",
}

# Random inputs when no range is declared: an image-like range for floats, small ids for ints.
DEFAULT_FLOAT_RANGE = (0.0, 1.0)
DEFAULT_INT_RANGE = (0, 10)


def require_file(path: str, what: str = "model") -> None:
    if not os.path.exists(path):
        raise JobFailed("the %s %s does not exist on the device: upload it or check the path" % (what, path))
    if os.path.isdir(path):
        raise JobFailed("the %s %s is a folder, not a file" % (what, path))


def load_model(path: str, load_external_data: bool = True) -> Any:
    """``onnx.load`` with a message a person can act on when the file is not a model."""
    import onnx

    require_file(path)
    try:
        model = onnx.load(path, load_external_data=load_external_data)
    except Exception as exc:
        raise JobFailed(
            "%s is not a readable ONNX model (%s: %s). Re-export it, or check that the upload finished "
            "(compare its size and sha256 with the original)." % (path, type(exc).__name__, str(exc)[:300])
        ) from None
    if not model.graph.node and not model.graph.output:
        raise JobFailed("%s holds no ONNX graph (empty or not an ONNX file): re-export the model" % path)
    return model


def all_nodes(graph: Any) -> Iterator[Any]:
    """Every node, including those inside If / Loop / Scan bodies."""
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            if attribute.HasField("g"):
                yield from all_nodes(attribute.g)
            for sub in attribute.graphs:
                yield from all_nodes(sub)


def dims_of(value_info: Any) -> List[Dim]:
    tensor = value_info.type.tensor_type
    if not tensor.HasField("shape"):
        return []
    out: List[Dim] = []
    for dim in tensor.shape.dim:
        if dim.HasField("dim_value"):
            out.append(int(dim.dim_value))
        elif dim.HasField("dim_param"):
            out.append(str(dim.dim_param))
        else:
            out.append(None)
    return out


def is_dynamic(shape: Sequence[Dim]) -> bool:
    return any(not isinstance(dim, int) or dim < 0 for dim in shape)


def _spell(shape: Sequence[Dim]) -> str:
    return "[%s]" % ", ".join("?" if dim is None else str(dim) for dim in shape)


def _example(shape: Sequence[Dim]) -> str:
    return "x".join(str(dim) if isinstance(dim, int) and dim > 0 else "1" for dim in shape)


def resolve_shapes(inputs: Sequence[Tuple[str, Sequence[Dim]]], given: Mapping[str, Sequence[int]]) -> Dict[str, Shape]:
    """A concrete shape for every input: the model's own when static, else the one given."""
    names = [name for name, _ in inputs]
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise JobFailed("the model has no input named %s; its inputs are %s" % (", ".join(unknown), ", ".join(names)))
    shapes: Dict[str, Shape] = {}
    missing: List[str] = []
    for name, dims in inputs:
        if name in given:
            shape = tuple(int(d) for d in given[name])
            if len(shape) != len(dims) and dims:
                raise JobFailed("input %r has rank %d %s but the shape given has rank %d (%s)"
                                % (name, len(dims), _spell(dims), len(shape), "x".join(map(str, shape))))
            for index, (want, got) in enumerate(zip(dims, shape)):
                if got <= 0:
                    raise JobFailed("input %r: dimension %d of the shape given must be positive" % (name, index))
                if isinstance(want, int) and want > 0 and want != got:
                    raise JobFailed("input %r has a fixed dimension %d of %d %s but the shape given says %d"
                                    % (name, index, want, _spell(dims), got))
            shapes[name] = shape
        elif is_dynamic(dims):
            symbolic = [str(d) if d is not None else "?" for d in dims if not (isinstance(d, int) and d > 0)]
            missing.append("%r %s (dynamic: %s)" % (name, _spell(dims), ", ".join(symbolic)))
        else:
            shapes[name] = tuple(int(d) for d in dims)  # type: ignore[arg-type]
    if missing:
        examples = " ".join(
            "%s:%s" % (name, _example(dims)) for name, dims in inputs if name not in shapes
        )
        raise JobFailed("the model has dynamic input dimensions and no shape was given for %s. Give a shape for "
                        "each, e.g. --shape %s" % ("; ".join(missing), examples))
    return shapes


def random_inputs(
    inputs: Sequence[Tuple[str, str]],
    shapes: Mapping[str, Shape],
    seed: int = 0,
    ranges: Optional[Mapping[str, Sequence[float]]] = None,
) -> Dict[str, Any]:
    """Uniform random data per input: floats within the declared range (default [0, 1)),
    integers within [low, high) (default [0, 10))."""
    import numpy as np

    rng = np.random.default_rng(seed)
    feeds: Dict[str, Any] = {}
    for name, dtype in inputs:
        span = (ranges or {}).get(name)
        if span is not None and (len(span) != 2 or not span[0] < span[1]):
            raise JobFailed("the range for input %r must be [low, high] with low < high" % name)
        shape = shapes[name]
        if dtype == "bool":
            feeds[name] = rng.random(shape) < 0.5
        elif dtype.startswith(("int", "uint")):
            low, high = (int(span[0]), int(span[1])) if span else DEFAULT_INT_RANGE
            feeds[name] = rng.integers(low, high, size=shape).astype(dtype)
        else:
            low_f, high_f = (float(span[0]), float(span[1])) if span else DEFAULT_FLOAT_RANGE
            feeds[name] = rng.uniform(low_f, high_f, size=shape).astype(dtype)
    return feeds


def integer_ranges(path: str) -> Dict[str, Tuple[int, int]]:
    """[low, high) for integer inputs the model would reject random values for: an input used as the
    indices of a Gather on a constant table (token ids into an embedding) stays below the table's size
    on that axis; a scalar integer input (a count, a top-k) is at least 1. Others keep the default."""
    model = load_model(path, load_external_data=False)
    graph = model.graph
    tables = {init.name: list(init.dims) for init in graph.initializer}
    initializers = set(tables)
    inputs = {vi.name: vi for vi in graph.input if vi.name not in initializers}
    ranges: Dict[str, Tuple[int, int]] = {}
    for name, vi in inputs.items():
        if vi.type.tensor_type.elem_type in (6, 7) and vi.type.tensor_type.HasField("shape") and not dims_of(vi):
            ranges[name] = (1, DEFAULT_INT_RANGE[1])  # int32 / int64 scalars
    for node in graph.node:
        if node.op_type == "Gather" and len(node.input) > 1 and node.input[1] in inputs and node.input[0] in tables:
            axis = next((int(a.i) for a in node.attribute if a.name == "axis"), 0)
            dims = tables[node.input[0]]
            size = int(dims[axis]) if -len(dims) <= axis < len(dims) else 0
            if size > 0:
                low, high = ranges.get(node.input[1], (0, size))
                ranges[node.input[1]] = (low, min(high, size))
    return ranges


def session_inputs(session: Any) -> List[Tuple[str, List[Dim], str]]:
    """(name, dims, numpy dtype) of an ONNX Runtime session's inputs."""
    out = []
    for arg in session.get_inputs():
        dtype = ORT_TYPES.get(arg.type)
        if dtype is None:
            raise JobFailed("input %r has type %s, which this runtime cannot generate data for" % (arg.name, arg.type))
        dims: List[Dim] = [d if isinstance(d, (int, str)) or d is None else None for d in arg.shape]
        out.append((arg.name, dims, dtype))
    return out


def open_session(path: str, providers: Sequence[str], threads: Optional[int] = None) -> Any:
    """An ONNX Runtime session with a clear message when the model does not load."""
    require_file(path)
    try:
        return ort_session(path, providers, threads=threads)
    except Exception as exc:
        raise JobFailed("ONNX Runtime could not load %s with %s: %s. Run the validate job on it to see why."
                        % (path, ", ".join(providers), str(exc).strip()[:500])) from None


def best_providers(requested: Optional[str] = None) -> List[str]:
    """The named provider (with CPU as fallback), or the best one this device has."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if requested:
        if requested not in available:
            raise JobFailed("ONNX Runtime on this device has no %s; available: %s"
                            % (requested, ", ".join(available)))
        return [requested] if requested == CPU else [requested, CPU]
    return pick_providers(available)
