"""validate: is this ONNX model sound, what does it look like, and what can run it here.

Checks with the ONNX checker (by path, so models over 2 GB and external data work) and strict
shape inference; reports IR and opset versions, inputs and outputs with their symbolic
dimensions, an operator census (subgraphs included), the parameter count (initializers and the
tensors of ``Constant`` nodes, as PyTorch exports often carry their weights), external data, the
precision (Q/DQ and integer operators, FP16 weights, mixes), which operators each backend on the
device cannot run, and for a Q/DQ model what breaks TensorRT's Q/DQ rules (:mod:`qdq_rules`).
Weights are never loaded into memory here: counts come from the tensors' declared dims.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterator, Tuple

from device_runtime.jobs.kinds.base import JobKind, WorkerContext
from device_runtime.jobs.kinds.onnx_io import all_nodes, dims_of, is_dynamic, load_model
from device_runtime.protocol import Record, TensorInfo, ValidateReport, ValidateSpec

QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")
INTEGER_OPS = ("MatMulInteger", "ConvInteger", "DynamicQuantizeLinear", "QGemm", "QAttention")


def _dtype_name(elem_type: int) -> str:
    from onnx import helper

    try:
        return str(helper.tensor_dtype_to_np_dtype(elem_type))
    except Exception:
        return "type%d" % elem_type


def _tensor_info(value_info: Any) -> TensorInfo:
    return TensorInfo(value_info.name, _dtype_name(value_info.type.tensor_type.elem_type), list(dims_of(value_info)))


def _weight_tensors(graph: Any) -> Iterator[Any]:
    """Initializers and the tensors of Constant nodes (subgraphs included)."""
    yield from graph.initializer
    for node in all_nodes(graph):
        if node.op_type == "Constant":
            for attribute in node.attribute:
                if attribute.name == "value":
                    yield attribute.t


def _weight_census(graph: Any) -> Tuple[int, Dict[str, int]]:
    """(parameter count, elements per dtype name) of the weights, from declared dims only."""
    total = 0
    types: Dict[str, int] = {}
    for tensor in _weight_tensors(graph):
        count = 1
        for dim in tensor.dims:
            count *= int(dim)
        total += count
        dtype = _dtype_name(tensor.data_type)
        types[dtype] = types.get(dtype, 0) + count
    return total, types


def _precision(weight_types: Dict[str, int], operators: Dict[str, int]) -> str:
    """int8 (Q/DQ or integer operators: the coarsest precision decides), fp16, mixed (FP16 and FP32 weights)
    or fp32."""
    floats = {name for name, count in weight_types.items() if count and name.startswith(("float", "bfloat"))}
    floats.discard("float64")
    quantized = any(op in operators for op in QDQ_OPS + INTEGER_OPS) or any(op.startswith("QLinear")
                                                                            for op in operators)
    low = floats & {"float16", "bfloat16"}
    if quantized:
        return "int8"
    if low:
        return "fp16" if floats <= {"float16", "bfloat16"} else "mixed"
    return "fp32"


class ValidateKind(JobKind):
    name = "validate"
    gpu = False
    spec_type = ValidateSpec

    def run(self, spec: Any, ctx: WorkerContext) -> Record:
        import onnx

        from device_runtime.jobs.kinds.backend_support import ort_support, tensorrt_support

        assert isinstance(spec, ValidateSpec)
        path = spec.model
        ctx.progress(0.05, "reading the model")
        model = load_model(path, load_external_data=False)
        report = ValidateReport(model=path, ok=True, size_bytes=os.path.getsize(path))
        graph = model.graph
        initializers = {init.name for init in graph.initializer}
        report.external_data = any(init.data_location == onnx.TensorProto.EXTERNAL for init in graph.initializer)
        report.ir_version = int(model.ir_version)
        report.opsets = {entry.domain or "": int(entry.version) for entry in model.opset_import}
        report.producer = " ".join(p for p in (model.producer_name, model.producer_version) if p)
        report.inputs = [_tensor_info(vi) for vi in graph.input if vi.name not in initializers]
        report.outputs = [_tensor_info(vi) for vi in graph.output]
        for node in all_nodes(graph):
            key = node.op_type if node.domain in ("", "ai.onnx") else "%s.%s" % (node.domain, node.op_type)
            report.operators[key] = report.operators.get(key, 0) + 1
        report.parameters, weight_types = _weight_census(graph)
        report.precision = _precision(weight_types, report.operators)
        if any(op in report.operators for op in QDQ_OPS):
            from device_runtime.jobs.kinds.qdq_rules import check_qdq

            report.qdq_findings = check_qdq(model)
            if report.qdq_findings:
                report.warnings.append("TensorRT would not build these Q/DQ nodes: %s" % "; ".join(
                    report.qdq_findings[:3]))
        for info in report.inputs:
            if is_dynamic(info.shape):
                report.warnings.append("input %r has dynamic dimensions %s: benchmark, accuracy and build need a "
                                       "shape for it" % (info.name, info.shape))

        ctx.progress(0.2, "ONNX checker")
        try:
            onnx.checker.check_model(path)
        except Exception as exc:
            report.checker_error = str(exc).strip()[:2000]
            report.ok = False
        ctx.progress(0.4, "shape inference")
        try:
            onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
        except Exception as exc:
            report.shape_inference_error = str(exc).strip()[:2000]
            report.ok = False
        del model
        ctx.progress(0.6, "asking ONNX Runtime")
        report.backends.extend(ort_support(path))
        ctx.progress(0.85, "asking TensorRT")
        report.backends.append(tensorrt_support(path, ctx.capabilities.tensorrt))
        for backend in report.backends:
            if backend.unsupported_ops:
                report.warnings.append("%s cannot run: %s" % (backend.backend, ", ".join(backend.unsupported_ops)))
        ctx.log("validated %s: %s, %d nodes, %d parameters" % (
            path, "ok" if report.ok else "problems found", sum(report.operators.values()), report.parameters))
        return report



def model_precision(path: str) -> str:
    """fp32, fp16, int8 (Q/DQ) or mixed, from the weights' types and the operators (no weights loaded)."""
    model = load_model(path, load_external_data=False)
    operators = {node.op_type: 1 for node in all_nodes(model.graph)}
    return _precision(_weight_census(model.graph)[1], operators)
