"""Tensor descriptions as real exporters write them, in one form for the package writer and the device.

A dimension is a size (an int >= 0), a symbol (any text ONNX holds: a name such as ``batch`` or a
computed expression such as ``(floor(height/2 - 1/2)...)``, kept for display and treated as dynamic)
or dynamic with no name (``None``; ``-1`` and ``""`` as some exporters write them read the same).
The writer goes through :func:`dim_from_onnx` and :func:`spec_fields_from_value_info`, the reader
through :func:`check_dim`, so whatever the writer records the reader accepts.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

MAX_RANK = 64
MAX_SYMBOL = 65536  # the manifest's own size limit bounds the total

# ONNX TensorProto.DataType -> the manifest's dtype word
ONNX_DTYPES = {
    1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "string", 9: "bool",
    10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 14: "complex64", 15: "complex128", 16: "bfloat16",
    17: "float8e4m3fn", 18: "float8e4m3fnuz", 19: "float8e5m2", 20: "float8e5m2fnuz", 21: "uint4", 22: "int4",
    23: "float4e2m1",
}
# values that are not tensors (ONNX sequence, map, optional types) and tensors of an undeclared type
OTHER_KINDS = ("sequence", "map", "optional", "sparse", "unknown")
DTYPES = tuple(sorted(set(ONNX_DTYPES.values()))) + OTHER_KINDS


def check_dim(dim: Any) -> bool:
    """Whether ``dim`` is a dimension the manifest can hold."""
    if isinstance(dim, bool):
        return False
    if isinstance(dim, int):
        return dim >= -1
    if isinstance(dim, str):
        return len(dim) <= MAX_SYMBOL
    return dim is None


def is_fixed(dim: Any) -> bool:
    return isinstance(dim, int) and not isinstance(dim, bool) and dim >= 0


def dim_from_onnx(value: Optional[int], param: Optional[str]) -> Any:
    """The manifest's form of one ONNX dimension (``dim_value`` or ``dim_param``, either may be unset)."""
    if value is not None:
        return int(value) if value >= 0 else None
    if param:
        return str(param)
    return None


def spec_fields_from_value_info(value: Any) -> Tuple[str, str, List[Any]]:
    """(name, dtype, shape) of an ONNX ``ValueInfoProto``, read without importing onnx."""
    kind = value.type.WhichOneof("value")
    if kind != "tensor_type":
        word = {"sequence_type": "sequence", "map_type": "map", "optional_type": "optional",
                "sparse_tensor_type": "sparse"}.get(kind or "", "unknown")
        return value.name, word, []
    tensor = value.type.tensor_type
    dtype = ONNX_DTYPES.get(tensor.elem_type, "unknown")
    dims = []
    for dim in tensor.shape.dim:
        dims.append(dim_from_onnx(dim.dim_value if dim.HasField("dim_value") else None,
                                  dim.dim_param if dim.HasField("dim_param") else None))
    return value.name, dtype, dims[:MAX_RANK]


def has_rank(value: Any) -> bool:
    """Whether an ONNX tensor ``ValueInfoProto`` declares its rank at all."""
    return bool(value.type.WhichOneof("value") == "tensor_type" and value.type.tensor_type.HasField("shape"))


def spell(shape: List[Any]) -> str:
    """``1x3x?x?``: a shape as the ``--shape`` flag writes it, ``?`` for each dynamic dimension."""
    if not shape:
        return "scalar"
    return "x".join(str(d) if is_fixed(d) else "?" for d in shape)
