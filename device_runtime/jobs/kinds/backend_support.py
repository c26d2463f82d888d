"""Which operators each backend on this device can run, found by asking the backend itself.

ONNX Runtime: the model is loaded once per available execution provider; for providers other
than CPU the CPU fallback is switched off, so a load failure means some node needs the CPU.
Missing kernels are named in ORT's own error ("Could not find an implementation for Op(n)").
TensorRT (when installed): the ONNX parser's errors name the failing nodes. ``str(ParserError)`` is
``In node N with name: NAME and operator: OP (func): CODE: desc`` from 10.0 and
``In node N (func): CODE: desc`` in 8.x (``python/src/parsers/pyOnnx.cpp`` at v10.0.1 and v8.6.1):
the operator is read from the first, and looked up by node index in the model for the second;
``func`` is the parser's own function (``checkFallbackPluginImporter``...), never an operator, and
node -1 is an error about the whole graph.
"""

from __future__ import annotations

import re
from typing import Any, List, Optional

from device_runtime.engines.ort_session import CPU, open_session
from device_runtime.protocol import BackendSupport

_ORT_MISSING = re.compile(r"Could not find an implementation for (\w+)\((\d+)\)")
_ORT_UNREGISTERED = re.compile(r"(?:([\w.]+):)?(\w+)\(-?\d+\) is not a registered function/op")
_TRT_10 = re.compile(r"In node (-?\d+) with name: .*? and operator: (\S*) \(")
_TRT_8 = re.compile(r"In node (-?\d+) \(\w+\): ")
# Providers that are not local accelerators and say nothing about this device.
_SKIP = ("AzureExecutionProvider",)


def _ops_in(message: str, pattern: "re.Pattern[str]") -> List[str]:  # noqa: UP037 - a string so Python 3.8 never evaluates it
    return sorted({match.group(1) for match in pattern.finditer(message)})


def ort_support(path: str) -> List[BackendSupport]:
    import onnxruntime as ort

    out: List[BackendSupport] = []
    for provider in ort.get_available_providers():
        if provider in _SKIP:
            continue
        name = "onnxruntime:%s" % provider
        try:
            open_session(path, [provider], cpu_fallback=provider == CPU)
        except Exception as exc:
            message = str(exc).strip()
            ops = _ops_in(message, _ORT_MISSING)
            ops += [".".join(p for p in m.groups() if p) for m in _ORT_UNREGISTERED.finditer(message)]
            note = "loading failed: %s" % message[:400]
            if not ops and "fallback to CPU EP has been explicitly disabled" in message:
                note = "some nodes have no %s kernel and would run on the CPU" % provider
            out.append(BackendSupport(name, True, ops, note))
            continue
        out.append(BackendSupport(name, True, [], "the whole model loads"))
    return out


def tensorrt_support(path: str, version: Optional[str], trt: Optional[Any] = None) -> BackendSupport:
    """``trt``: the tensorrt module when the caller has it; imported here otherwise."""
    if not version and trt is None:
        return BackendSupport("tensorrt", False, [], "TensorRT is not installed on this device")
    if trt is None:
        try:
            import tensorrt as trt_module
        except Exception as exc:  # installed but broken (missing CUDA libraries, ...)
            return BackendSupport("tensorrt", False, [], "TensorRT %s does not import: %s" % (version, exc))
        trt = trt_module
    from device_runtime.engines.trt_adapter import module_version
    from device_runtime.engines.trt_plan import generation_of

    installed = module_version(trt)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if installed.major == 8:
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if parser.parse_from_file(path):
        note = "the ONNX parser accepts every node"
        if generation_of(installed) is None:
            note += "; builds need TensorRT 8.5, 8.6, 10.x or 11.x (this is %s)" % installed
        return BackendSupport("tensorrt", True, [], note)
    errors = [str(parser.get_error(index)) for index in range(parser.num_errors)]
    ops = parser_error_operators(errors, _node_ops(path))
    return BackendSupport("tensorrt", True, ops, "ONNX parser: " + "; ".join(errors)[:400])


def _node_ops(path: str) -> List[str]:
    from device_runtime.jobs.kinds.onnx_io import load_model

    return [node.op_type for node in load_model(path, load_external_data=False).graph.node]


def parser_error_operators(errors: List[str], node_ops: List[str]) -> List[str]:
    """The operators of the nodes TensorRT's ONNX parser rejected (``node_ops``: the graph's op types in order)."""
    ops = set()
    for error in errors:
        named = _TRT_10.search(error)
        if named:
            if int(named.group(1)) >= 0 and named.group(2):
                ops.add(named.group(2))
            continue
        indexed = _TRT_8.search(error)
        if indexed and 0 <= int(indexed.group(1)) < len(node_ops):
            ops.add(node_ops[int(indexed.group(1))])
    return sorted(ops)
