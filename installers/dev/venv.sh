#!/usr/bin/env bash
# Create (or reuse) .venv at the repository root and install the project with the given extra.
# Usage: installers/dev/venv.sh console|dev
set -euo pipefail
EXTRA="${1:-console}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "the console needs Python 3.10 or newer")'
if [ ! -x "$ROOT/.venv/bin/python" ]; then
    "$PYTHON" -m venv "$ROOT/.venv"
fi
"$ROOT/.venv/bin/python" -m pip install -q --upgrade pip >/dev/null
"$ROOT/.venv/bin/python" -m pip install -q -e "$ROOT[$EXTRA]"
