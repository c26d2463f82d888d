#!/usr/bin/env bash
# Build an offline wheelhouse for the device runtime: this project's wheel plus every wheel its
# `device` extra needs, for the device's platform and Python (robots usually have no internet).
#
#   installers/device/wheelhouse.sh -o DIR [--platform TAG ...] [--python 3.8]
#
# Without --platform/--python the wheelhouse is for this machine's interpreter. pip does not
# widen a platform tag to older ones, so give every tag the device accepts, e.g. for a JetPack 6
# Orin (glibc 2.35): --platform manylinux_2_35_aarch64 --platform manylinux_2_28_aarch64
# --platform manylinux2014_aarch64 --python 3.10. The console's installer does this by itself.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT=""
PLATFORMS=()
PYVER=""
PYTHON="${PYTHON:-python3}"
while [ $# -gt 0 ]; do
    case "$1" in
        -o|--output) OUT="$2"; shift 2 ;;
        --platform) PLATFORMS+=("$2"); shift 2 ;;
        --python) PYVER="$2"; shift 2 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "wheelhouse.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ -n "$OUT" ] || { echo "wheelhouse.sh: give the output directory with -o DIR" >&2; exit 2; }
mkdir -p "$OUT"
"$PYTHON" -m pip wheel -q --no-deps --wheel-dir "$OUT" "$ROOT"
WHEEL="$(ls -t "$OUT"/edge_operator_console-*.whl | head -n 1)"
TARGET=()
if [ ${#PLATFORMS[@]} -gt 0 ] || [ -n "$PYVER" ]; then
    TARGET=(--only-binary=:all:)
    for tag in "${PLATFORMS[@]}"; do
        TARGET+=(--platform "$tag")
    done
    [ -n "$PYVER" ] && TARGET+=(--python-version "$PYVER")
fi
"$PYTHON" -m pip download -q --dest "$OUT" "${TARGET[@]}" "${WHEEL}[device]"
echo "$WHEEL"
