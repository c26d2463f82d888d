#!/usr/bin/env bash
# Remove the edge-runtime daemon. The model store and state are kept unless --purge is given.
#
#   sudo installers/device/uninstall.sh [--prefix /opt/edge-runtime] [--state /var/lib/edge-runtime] [--purge]
set -euo pipefail
PREFIX="/opt/edge-runtime"
STATE="/var/lib/edge-runtime"
PURGE=0
UNIT_DIR="${UNIT_DIR:-/etc/systemd/system}"
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX="$2"; shift 2 ;;
        --state) STATE="$2"; shift 2 ;;
        --purge) PURGE=1; shift ;;
        -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
        *) echo "uninstall.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
if [ -f "$UNIT_DIR/edge-runtime.service" ]; then
    if [ -d /run/systemd/system ]; then
        systemctl disable --now edge-runtime.service >/dev/null 2>&1 || true
    fi
    rm -f "$UNIT_DIR/edge-runtime.service"
    [ -d /run/systemd/system ] && systemctl daemon-reload
fi
# A runtime started without systemd (install.sh's fallback) is stopped through its socket.
if [ -S /run/edge-runtime/edge-runtime.sock ] && [ -x "$PREFIX/bin/edge-runtime" ]; then
    "$PREFIX/bin/edge-runtime" stop --socket /run/edge-runtime/edge-runtime.sock || true
fi
rm -rf "$PREFIX/venv" "$PREFIX/venvs" "$PREFIX/bin"
rmdir "$PREFIX" 2>/dev/null || true
if [ "$PURGE" -eq 1 ]; then
    rm -rf "$STATE"
    id edge-runtime >/dev/null 2>&1 && userdel edge-runtime
    getent group edge-runtime >/dev/null && groupdel edge-runtime
    rm -rf /run/edge-runtime
    echo "removed the runtime, its state and the model store ($STATE)"
else
    echo "removed the runtime; the model store and state in $STATE are kept (use --purge to remove them)"
fi
