#!/usr/bin/env bash
# Build the one-folder console bundle with PyInstaller into dist/edge-console/.
#
#   installers/console/build-bundle.sh [--dist DIR]
#
# Uses the repository's .venv (installers/dev/venv.sh console) plus PyInstaller. The bundle carries
# the runtime wheel so commissioning a robot works offline.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIST="$ROOT/dist"
while [ $# -gt 0 ]; do
    case "$1" in
        --dist) DIST="$2"; shift 2 ;;
        -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
        *) echo "build-bundle.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || bash "$ROOT/installers/dev/venv.sh" console
"$PY" -m pip install -q "pyinstaller>=6.10,<7"
WHEEL_DIR="$ROOT/build/runtime-wheel"
rm -rf "$WHEEL_DIR"
mkdir -p "$WHEEL_DIR"
"$PY" -m pip wheel -q --no-deps --wheel-dir "$WHEEL_DIR" "$ROOT"
EDGE_RUNTIME_WHEEL_DIR="$WHEEL_DIR" "$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$DIST" --workpath "$ROOT/build/pyinstaller" "$ROOT/installers/console/edge-console.spec"
install -m 0644 "$ROOT/installers/console/edge-console.desktop" "$DIST/edge-console/edge-console.desktop"
echo "$DIST/edge-console"
