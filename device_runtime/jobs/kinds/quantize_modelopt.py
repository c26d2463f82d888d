"""Which INT8 quantizer a quantize job runs, and the NVIDIA ModelOpt route.

``quantizer`` in the spec: ``modelopt`` (NVIDIA's ``modelopt.onnx.quantization``, the path NVIDIA
recommends for TensorRT 10 and 11), ``ort`` (ONNX Runtime's ``quantize_static`` in TensorRT's form,
:mod:`quantize_int8`) or ``auto``: ModelOpt when it is installed and the request is one it can do,
else ONNX Runtime, with the reason in the result.

ModelOpt pins its own ONNX and ONNX Runtime and patches ONNX Runtime's quantizer on import, so it
never runs inside the runtime: :mod:`quantize_modelopt_main` runs as a child process of the job
(cancelling the job ends it) under the Python named by ``EDGE_MODELOPT_PYTHON`` in the runtime's
environment, or under the runtime's own Python when ``modelopt`` is importable there. Its output
then takes the same proof as ONNX Runtime's (checker, an ONNX Runtime run, TensorRT's Q/DQ rules).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from device_runtime.jobs.kinds.base import JobFailed, WorkerContext

QUANTIZERS = ("auto", "modelopt", "ort")
ENV_PYTHON = "EDGE_MODELOPT_PYTHON"
# The project's calibration methods that ModelOpt's INT8 has ("max" is its min/max calibration).
MODELOPT_METHODS = {"minmax": "max", "entropy": "entropy"}
PROBE_TIMEOUT_S = 120.0
MAIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "quantize_modelopt_main.py")

InputDecl = Tuple[str, Sequence[Any], str]


class Choice:
    """The quantizer that will run: ``name`` (modelopt / ort), its Python and versions, and why it was chosen."""

    def __init__(self, name: str, reason: str, python: Optional[str] = None,
                 versions: Optional[Dict[str, str]] = None) -> None:
        self.name = name
        self.reason = reason
        self.python = python
        self.versions = dict(versions or {})


def unsupported(method: str, per_channel: bool, inputs: Sequence[InputDecl]) -> Optional[str]:
    """Why ModelOpt cannot do this request (None when it can)."""
    if method not in MODELOPT_METHODS:
        return "ModelOpt's INT8 calibration has no %s method (it has %s)" % (method, ", ".join(MODELOPT_METHODS))
    if not per_channel:
        return "ModelOpt quantizes weights per channel only"
    scalars = [name for name, dims, _ in inputs if not dims]
    if scalars:
        return "ModelOpt's calibration splits every input along its first axis, and %s %s no axis (scalar)" % (
            ", ".join(repr(name) for name in scalars), "has" if len(scalars) == 1 else "have")
    odd = [name for name, _, _ in inputs if "," in name]
    if odd:
        return "ModelOpt's calibration shapes cannot name an input with a comma (%s)" % ", ".join(map(repr, odd))
    return None


def _tail(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def probe(python: str, env: Mapping[str, str], scratch: str) -> Tuple[Optional[Dict[str, str]], str]:
    """(versions, "") when ``python`` imports ``modelopt.onnx.quantization``; else (None, why not)."""
    with open(MAIN) as handle:
        source = handle.read()
    try:
        done = subprocess.run([python, "-c", source, "probe"], check=False, stdin=subprocess.DEVNULL,
                              capture_output=True, env=dict(env), cwd=scratch, timeout=PROBE_TIMEOUT_S)
    except OSError as exc:
        return None, "%s cannot be run (%s)" % (python, exc.strerror or exc)
    except subprocess.TimeoutExpired:
        return None, "%s did not import modelopt.onnx.quantization within %d s" % (python, PROBE_TIMEOUT_S)
    if done.returncode != 0:
        return None, "%s cannot import modelopt.onnx.quantization (%s)" % (
            python, _tail(done.stderr.decode("utf-8", "replace")))
    try:
        versions = json.loads(_tail(done.stdout.decode("utf-8", "replace")))
    except ValueError:
        return None, "%s printed no versions when probed" % python
    return {str(key): str(value) for key, value in dict(versions).items()}, ""


def find_modelopt(env: Mapping[str, str], scratch: str) -> Tuple[Optional[str], Dict[str, str], str]:
    """(python, versions, "") for the Python that has ModelOpt; (None, {}, why not) when there is none."""
    import importlib.util

    configured = env.get(ENV_PYTHON, "").strip()
    if configured:
        versions, why = probe(configured, env, scratch)
        if versions is None:
            return None, {}, "%s=%s, but %s" % (ENV_PYTHON, configured, why)
        return configured, versions, ""
    if importlib.util.find_spec("modelopt") is None:
        return None, {}, ("ModelOpt is not installed for the runtime's Python and %s does not name a Python that "
                          "has it" % ENV_PYTHON)
    versions, why = probe(sys.executable, env, scratch)
    if versions is None:
        return None, {}, why
    return sys.executable, versions, ""


def choose(asked: str, method: str, per_channel: bool, inputs: Sequence[InputDecl], ctx: WorkerContext,
           scratch: str) -> Choice:
    """The quantizer for this job; JobFailed when ``modelopt`` was asked for and cannot run."""
    if asked == "ort":
        return Choice("ort", "asked for (quantizer ort)")
    limit = unsupported(method, per_channel, inputs)
    if limit is not None:
        if asked == "modelopt":
            raise JobFailed("%s: choose %s, or quantizer ort (ONNX Runtime's quantizer)" % (
                limit, "calibration method minmax or entropy" if method not in MODELOPT_METHODS
                else "per-channel weights" if not per_channel else "another quantizer"))
        return Choice("ort", "ModelOpt cannot do this request: %s" % limit)
    python, versions, why = find_modelopt(ctx.env, scratch)
    if python is None:
        if asked == "modelopt":
            raise JobFailed("NVIDIA ModelOpt was asked for but cannot run: %s. Install nvidia-modelopt for the "
                            "runtime's Python, or set %s in the runtime's environment to a Python that has it; or "
                            "use quantizer ort" % (why, ENV_PYTHON))
        return Choice("ort", why)
    reason = "asked for (quantizer modelopt)" if asked == "modelopt" else "ModelOpt is installed (auto)"
    return Choice("modelopt", reason, python, versions)


def calibration_arrays(samples: List[Dict[str, Any]], inputs: Sequence[InputDecl]) -> Tuple[Dict[str, Any], str]:
    """The samples stacked along the first axis per input, and ModelOpt's shape spec of one sample."""
    import numpy as np

    arrays: Dict[str, Any] = {}
    shapes: List[str] = []
    for name, _, _ in inputs:
        parts = [np.asarray(sample[name]) for sample in samples]
        first = parts[0].shape
        other = next((part.shape for part in parts if part.shape != first), None)
        if other is not None:
            raise JobFailed("ModelOpt calibrates on samples of one shape, but input %r has samples of shape %s and "
                            "%s: resize the calibration data to one size (edgectl quantize --size HxW for images) "
                            "or use quantizer ort" % (name, list(first), list(other)))
        arrays[name] = np.concatenate(parts, axis=0)
        shapes.append("%s:%s" % (name, "x".join(str(dim) for dim in first)))
    return arrays, ",".join(shapes)


def quantize_modelopt(source: str, output: str, samples: List[Dict[str, Any]], inputs: Sequence[InputDecl],
                      method: str, choice: Choice, ctx: WorkerContext, scratch: str) -> Dict[str, str]:
    """Write ModelOpt's INT8 model of ``source`` to ``output`` (in ``scratch``); returns the versions that ran."""
    import numpy as np
    import onnx

    assert choice.python is not None
    arrays, shapes = calibration_arrays(samples, inputs)
    calibration = os.path.join(scratch, "calibration.npz")
    np.savez(calibration, **arrays)
    model = os.path.join(scratch, "source.onnx")  # ModelOpt writes its intermediate files next to the model
    onnx.save(onnx.load(source), model)
    request: Dict[str, Any] = {"model": model, "output": output, "calibration": calibration, "shapes": shapes,
               "method": MODELOPT_METHODS[method], "eps": ["cuda:0", "cpu"],
               "result": os.path.join(scratch, "result.json")}
    request_path = os.path.join(scratch, "request.json")
    with open(request_path, "w") as handle:
        json.dump(request, handle)
    with open(MAIN) as handle:
        program = handle.read()
    ctx.progress(0.2, "calibrating and quantizing with NVIDIA ModelOpt %s" % choice.versions.get("modelopt", ""),
                 force=True)
    lines: List[str] = []
    proc = subprocess.Popen([choice.python, "-c", program, request_path], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(ctx.env), cwd=scratch)
    assert proc.stdout is not None
    try:
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            lines.append(line)
            ctx.log("modelopt: %s" % line)
    finally:
        proc.stdout.close()
        code = proc.wait()
    if code != 0 or not os.path.exists(request["result"]) or not os.path.exists(output):
        raise JobFailed("NVIDIA ModelOpt's INT8 quantization failed on this model (exit %d: %s); nothing was kept. "
                        "The job log has its output; quantizer ort uses ONNX Runtime's quantizer instead"
                        % (code, _error_line(lines)))
    with open(request["result"]) as handle:
        return {str(key): str(value) for key, value in dict(json.load(handle)).items()}


def has_per_channel_scales(model: Any) -> bool:
    """Whether any Q/DQ node of the top-level graph has more than one scale (per-channel weights)."""
    from onnx import numpy_helper

    sizes = {init.name: int(numpy_helper.to_array(init).size) for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output:
            for attribute in node.attribute:
                if attribute.name == "value":
                    sizes[node.output[0]] = int(numpy_helper.to_array(attribute.t).size)
    return any(sizes.get(node.input[1], 1) > 1 for node in model.graph.node
               if node.op_type in ("QuantizeLinear", "DequantizeLinear") and len(node.input) > 1)


def _error_line(lines: List[str]) -> str:
    """The exception line of a traceback when there is one, else the last line."""
    for line in reversed(lines):
        if line and not line.startswith((" ", "\t", "INFO", "WARNING", "Traceback")):
            return line.strip()[:400]
    return _tail("\n".join(lines))
