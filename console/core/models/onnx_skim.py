"""An ONNX model's structure without its weights' bytes, read straight from the file's bytes.

Packaging needs a model's graph (inputs, outputs, operators, the initializers' names, types and
where their data lives) but never the weights' values; parsing a 300 MB model copies all 300 MB
into the parsed message. :func:`skim` walks the protobuf wire format of ``ModelProto`` and copies
every field except the ``raw_data`` of the main graph's initializers (where a model keeps almost
all of its weights), then parses that small copy. A model it cannot walk (a malformed or unusual
encoding) is parsed whole, as before.
"""

from __future__ import annotations

from typing import Any

_MODEL_GRAPH = 7  # ModelProto.graph
_GRAPH_INITIALIZER = 5  # GraphProto.initializer
_TENSOR_RAW_DATA = 9  # TensorProto.raw_data
_LENGTH_DELIMITED = 2
SKIM_FROM = 1 << 20  # smaller models are parsed whole: nothing worth skipping


class _Unwalkable(Exception):
    pass


def _varint(data: memoryview, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise _Unwalkable("a varint runs past the end")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _fields(data: memoryview) -> Any:
    """(field number, wire type, the field's whole encoding, its payload if length-delimited)."""
    at = 0
    while at < len(data):
        start = at
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        payload = None
        if wire == 0:
            _value, at = _varint(data, at)
        elif wire == 1:
            at += 8
        elif wire == 5:
            at += 4
        elif wire == _LENGTH_DELIMITED:
            length, at = _varint(data, at)
            payload = data[at:at + length]
            at += length
        else:
            raise _Unwalkable("wire type %d" % wire)
        if at > len(data):
            raise _Unwalkable("a field runs past the end")
        yield number, wire, data[start:at], payload


def _delimited(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | _LENGTH_DELIMITED) + _encode_varint(len(payload)) + payload


def _without(data: memoryview, drop: int) -> bytes:
    return b"".join(bytes(whole) for number, _wire, whole, _payload in _fields(data) if number != drop)


def _skimmed_graph(graph: memoryview) -> bytes:
    parts = []
    for number, wire, whole, payload in _fields(graph):
        if number == _GRAPH_INITIALIZER and wire == _LENGTH_DELIMITED and payload is not None:
            parts.append(_delimited(number, _without(payload, _TENSOR_RAW_DATA)))
        else:
            parts.append(bytes(whole))
    return b"".join(parts)


def skimmed_bytes(data: memoryview) -> bytes:
    """``ModelProto`` bytes with the main graph's initializers' ``raw_data`` left out."""
    parts = []
    for number, wire, whole, payload in _fields(data):
        if number == _MODEL_GRAPH and wire == _LENGTH_DELIMITED and payload is not None:
            parts.append(_delimited(number, _skimmed_graph(payload)))
        else:
            parts.append(bytes(whole))
    return b"".join(parts)


def skim(data: memoryview) -> Any:
    """The parsed ``ModelProto`` of ``data``, its main graph's weights' bytes left out (their
    names, types, shapes and external data references kept). Raises what parsing raises."""
    import onnx

    model = onnx.ModelProto()
    if len(data) >= SKIM_FROM:
        try:
            model.ParseFromString(skimmed_bytes(data))
            return model
        except _Unwalkable:
            model = onnx.ModelProto()
        except Exception:  # the walk went wrong somewhere: the parser of the whole file says what
            model = onnx.ModelProto()
    model.ParseFromString(data)
    return model
