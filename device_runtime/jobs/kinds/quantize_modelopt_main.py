"""The program an INT8 quantize job runs under the Python that has NVIDIA ModelOpt.

ModelOpt pins its own ONNX and ONNX Runtime (and patches ONNX Runtime's quantizer when imported), so it
runs in a separate process, often from another environment than the runtime's. This file imports
nothing from the runtime: it is passed to that Python as source (``python -c``) with one argument,
``probe`` (print the versions as JSON) or the path of a request (JSON: model, output, calibration
``.npz``, calibration shapes, method, result path). ModelOpt's log goes to stderr, which the job log
shows; the versions that ran are written to the result path.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
from typing import Any, Dict


def versions() -> Dict[str, str]:
    import platform

    found = {"python": platform.python_version()}
    for name, module in (("modelopt", "modelopt"), ("onnx", "onnx"), ("onnxruntime", "onnxruntime"),
                         ("numpy", "numpy")):
        found[name] = str(getattr(importlib.import_module(module), "__version__", "unknown"))
    return found


def quantize(request: Dict[str, Any]) -> None:
    import numpy as np

    quantization: Any = importlib.import_module("modelopt.onnx.quantization")
    with np.load(request["calibration"]) as archive:
        data = {name: archive[name] for name in archive.files}
    quantization.quantize(
        request["model"], quantize_mode="int8", calibration_data=data,
        calibration_method=request["method"], calibration_shapes=request["shapes"],
        calibration_eps=request["eps"], output_path=request["output"])
    with open(request["result"], "w") as handle:
        json.dump(versions(), handle)


def main(argv: Any) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: probe | REQUEST.json\n")
        return 2
    if argv[1] == "probe":
        importlib.import_module("modelopt.onnx.quantization")
        sys.stdout.write(json.dumps(versions()) + "\n")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr)
    with open(argv[1]) as handle:
        quantize(json.load(handle))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
