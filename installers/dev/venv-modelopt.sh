#!/usr/bin/env bash
# Create (or reuse) a separate virtual environment with NVIDIA ModelOpt's ONNX INT8 quantizer, for the
# quantize tests and for a runtime that should quantize with ModelOpt (point EDGE_MODELOPT_PYTHON at
# its bin/python). It is separate because ModelOpt pins its own ONNX and ONNX Runtime. 0.31.0 is the
# newest release whose INT8 path runs here without torch: 0.33 and later declare torch as a requirement
# (0.47 imports it in modelopt.onnx.quantization), and 0.33.1 fails on models whose weights are Constant
# nodes (an axis assertion). Its [onnx] extra names onnxruntime-gpu ~= 1.22.0 and cupy; the
# INT8 path imports neither cupy nor a GPU, so the CPU wheel of ONNX Runtime 1.22 is used.
# Prints the environment's Python. A second run with the same pins only checks the import (about 2 s).
# Usage: installers/dev/venv-modelopt.sh [DIR]   (default: ~/.cache/edge-operator-console/venv-modelopt)
set -euo pipefail
DIR="${1:-${EDGE_MODELOPT_VENV:-$HOME/.cache/edge-operator-console/venv-modelopt}}"
PYTHON="${PYTHON:-python3}"
PINS=(nvidia-modelopt==0.31.0 nvidia-modelopt-core==0.31.0 onnx==1.18.0 onnxruntime==1.22.1
      onnx-graphsurgeon==0.6.1 onnxconverter-common==1.16.0 "numpy>=1.24,<3")
STAMP="$DIR/.edge-pins"
if [ -x "$DIR/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "${PINS[*]}" ] \
    && "$DIR/bin/python" -c 'import modelopt.onnx.quantization' >/dev/null 2>&1; then
    echo "$DIR/bin/python"
    exit 0
fi
"$PYTHON" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 12) else
                                    "NVIDIA ModelOpt 0.31 needs Python 3.10 to 3.12; set PYTHON to one")'
rm -rf "$DIR"
"$PYTHON" -m venv "$DIR"
"$DIR/bin/python" -m pip install -q --upgrade pip >/dev/null
# --no-deps for ModelOpt itself: its [onnx] extra would pull onnxruntime-gpu, cupy, cppimport and
# polygraphy, which the INT8 ONNX path does not import; the requirements it imports are listed here.
"$DIR/bin/python" -m pip install -q --no-deps "${PINS[@]:0:2}" >&2
"$DIR/bin/python" -m pip install -q "${PINS[@]:2}" ninja packaging "pydantic>=2" rich scipy tqdm >&2
"$DIR/bin/python" -c 'import modelopt.onnx.quantization' >&2
echo "${PINS[*]}" > "$STAMP"
echo "$DIR/bin/python"
