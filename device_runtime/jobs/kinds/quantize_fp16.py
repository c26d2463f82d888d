"""FP16 conversion that leaves a valid graph: I/O in FP32 unless asked, shape arithmetic kept FP32, sorted.

ONNX Runtime's converter (``onnxruntime.transformers.float16``) does the weights and types; around it:

* inputs and outputs stay FP32 (Cast nodes at the boundary) unless ``fp16_io``; ``keep_fp32`` names
  the ones that stay FP32 even then;
* its default block list (Range, TopK, NonMaxSuppression, RoiAlign, CumSum...) plus ``block_ops``
  stay FP32, and so does every float node that computes a shape: the float ops behind a Cast to an
  integer type or behind a shape, size or index input (Reshape, Expand, Tile, Slice, Pad,
  ConstantOfShape, Resize's scales and sizes), where FP16 rounding would change the shape;
* the converter appends the Cast nodes it inserts at the end of the node list, which breaks
  ``onnx.checker``'s topological order, so the graph is sorted afterwards (subgraphs too).
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Set

# Input positions that carry shapes, sizes or indices (not data) for these operators.
SHAPE_INPUTS = {
    "Reshape": (1,), "Expand": (1,), "Tile": (1,), "Slice": (1, 2, 3, 4), "Pad": (1,), "ConstantOfShape": (0,),
    "Resize": (1, 2, 3), "Upsample": (1,), "Range": (0, 1, 2), "OneHot": (1,), "TopK": (1,), "Squeeze": (1,),
    "Unsqueeze": (1,), "ReduceMean": (1,), "ReduceSum": (1,), "Split": (1,),
}
# Where a walk back from a shape input stops: these turn data into shapes or are integer-only.
SHAPE_SOURCES = ("Shape", "Size", "NonZero")
# Shape arithmetic runs on scalars and 1-D tensors; a tensor of higher rank is data, and the walk stops.
SHAPE_RANK = 1


def _ranks(model: Any) -> Dict[str, int]:
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # over 2 GB or a model the inference cannot follow: no ranks, walk on names only
        return {}
    infos = list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
    return {vi.name: len(vi.type.tensor_type.shape.dim) for vi in infos
            if vi.type.HasField("tensor_type") and vi.type.tensor_type.HasField("shape")}


def shape_nodes(graph: Any, ranks: Dict[str, int]) -> Set[str]:
    """Names of the nodes that compute shapes, sizes or indices (see module docstring)."""
    producers = {out: node for node in graph.node for out in node.output}
    starts: List[str] = []
    for node in graph.node:
        for position in SHAPE_INPUTS.get(node.op_type, ()):
            if position < len(node.input) and node.input[position]:
                starts.append(node.input[position])
        if node.op_type == "Cast" and _casts_to_int(node):
            starts.append(node.input[0])
    found: Set[str] = set()
    stack = list(starts)
    seen: Set[str] = set()
    while stack:
        tensor = stack.pop()
        if tensor in seen:
            continue
        seen.add(tensor)
        producer = producers.get(tensor)
        if producer is None or producer.op_type in SHAPE_SOURCES or ranks.get(tensor, 0) > SHAPE_RANK:
            continue
        found.add(producer.name)
        stack.extend(name for name in producer.input if name)
    return found


def _casts_to_int(node: Any) -> bool:
    from onnx import TensorProto

    ints = {TensorProto.INT64, TensorProto.INT32, TensorProto.INT16, TensorProto.INT8, TensorProto.UINT8}
    return any(a.name == "to" and a.i in ints for a in node.attribute)


def name_nodes(graph: Any) -> None:
    """The converter blocks nodes by name, so every node needs one."""
    used = {node.name for node in graph.node if node.name}
    for index, node in enumerate(graph.node):
        if not node.name:
            candidate = "%s_%d" % (node.op_type, index)
            while candidate in used:
                candidate += "_"
            node.name = candidate
            used.add(candidate)


def _implicit_inputs(node: Any) -> Set[str]:
    """Names an If / Loop / Scan body reads from the enclosing graph (they are dependencies of the node)."""
    names: Set[str] = set()
    for attribute in node.attribute:
        for sub in ([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs):
            local = {vi.name for vi in sub.input} | {init.name for init in sub.initializer}
            local |= {out for inner in sub.node for out in inner.output}
            for inner in sub.node:
                names.update(name for name in inner.input if name not in local)
                names.update(_implicit_inputs(inner) - local)
            names.update(vi.name for vi in sub.output if vi.name not in local)
    return names


def topological_sort(graph: Any, outer: Sequence[str] = ()) -> None:
    """Reorder ``graph.node`` so every node follows its inputs' producers, those its subgraphs read from
    this graph included (stable otherwise)."""
    available = set(outer) | {vi.name for vi in graph.input} | {init.name for init in graph.initializer} | {""}
    produced = {out for node in graph.node for out in node.output}
    pending = list(graph.node)
    needs = {id(node): set(node.input) | _implicit_inputs(node) for node in pending}
    ordered: List[Any] = []
    while pending:
        remaining = []
        for node in pending:
            if all(name in available or name not in produced for name in needs[id(node)]):
                ordered.append(node)
                available.update(node.output)
            else:
                remaining.append(node)
        if len(remaining) == len(pending):
            ordered.extend(remaining)  # a cycle or a missing producer: the checker will say which
            break
        pending = remaining
    scope = sorted(available | produced)
    for node in ordered:
        for attribute in node.attribute:
            if attribute.HasField("g"):
                topological_sort(attribute.g, scope)
            for sub in attribute.graphs:
                topological_sort(sub, scope)
    copies = [_copy(node) for node in ordered]
    del graph.node[:]
    graph.node.extend(copies)


def _copy(node: Any) -> Any:
    from onnx import NodeProto

    clone = NodeProto()
    clone.CopyFrom(node)
    return clone


def _weights_not_inputs(model: Any) -> None:
    """Before IR 4 every initializer had to be a graph input too (some exporters wrote IR 3 files that break
    that rule); the converter treats such inputs as I/O. As IR 4 constants they convert like any weight."""
    if int(model.ir_version) >= 4 or not model.graph.initializer:
        return
    weights = {init.name for init in model.graph.initializer}
    kept = [vi for vi in model.graph.input if vi.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(kept)
    model.ir_version = 4


def convert_fp16(model: Any, io_names: Sequence[str], keep_fp32: Sequence[str], fp16_io: bool,
                 block_ops: Sequence[str]) -> Dict[str, Any]:
    """The converted model, the I/O names kept FP32 and the nodes kept FP32 for shapes."""
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    name_nodes(model.graph)
    _weights_not_inputs(model)
    kept_shape = sorted(shape_nodes(model.graph, _ranks(model)))
    keep_io: Any = list(keep_fp32) if fp16_io else True
    if fp16_io and not keep_fp32:
        keep_io = False
    converted = convert_float_to_float16(
        model, keep_io_types=keep_io, op_block_list=sorted(set(DEFAULT_OP_BLOCK_LIST) | set(block_ops)),
        node_block_list=kept_shape)
    topological_sort(converted.graph)
    kept_io = list(io_names) if keep_io is True else list(keep_fp32)
    return {"model": converted, "kept_io": kept_io, "kept_shape_nodes": kept_shape}
