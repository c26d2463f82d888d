#!/usr/bin/env bash
# Build the edge-runtime Debian package from the same files as install.sh.
#
#   installers/device/build-deb.sh --wheels DIR [--arch amd64|arm64] -o DIR
#
# DIR holds a wheelhouse for the target (wheelhouse.sh, e.g. --platform manylinux2014_aarch64
# --python 3.8 for JetPack 5, 3.10 for JetPack 6). The package installs the wheels into its own
# virtual environment at configure time (offline), with system site packages visible so JetPack's
# TensorRT bindings stay importable, creates the edge-runtime user and enables the unit.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
WHEELS=""
ARCH="$(dpkg --print-architecture)"
OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --wheels) WHEELS="$2"; shift 2 ;;
        --arch) ARCH="$2"; shift 2 ;;
        -o|--output) OUT="$2"; shift 2 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "build-deb.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ -n "$WHEELS" ] && [ -d "$WHEELS" ] || { echo "build-deb.sh: give the wheelhouse with --wheels DIR" >&2; exit 2; }
[ -n "$OUT" ] || { echo "build-deb.sh: give the output directory with -o DIR" >&2; exit 2; }
VERSION="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$ROOT/device_runtime/__init__.py")"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
PKG="$STAGE/edge-runtime"
install -d "$PKG/DEBIAN" "$PKG/opt/edge-runtime/wheels" "$PKG/usr/share/edge-runtime" "$PKG/lib/systemd/system"
cp "$WHEELS"/*.whl "$PKG/opt/edge-runtime/wheels/"
install -m 0755 "$HERE/install.sh" "$HERE/uninstall.sh" "$PKG/usr/share/edge-runtime/"
install -m 0644 "$HERE/edge-runtime.service.in" "$PKG/usr/share/edge-runtime/"
sed -e "s#@EXEC@#/opt/edge-runtime/bin/edge-runtime#g" -e "s#@STATE@#/var/lib/edge-runtime#g" \
    "$HERE/edge-runtime.service.in" > "$PKG/lib/systemd/system/edge-runtime.service"
SIZE="$(du -sk "$PKG" | cut -f1)"
cat > "$PKG/DEBIAN/control" <<CONTROL
Package: edge-runtime
Version: $VERSION
Architecture: $ARCH
Maintainer: Edge Operator Console developers <edge-operator-console@users.noreply.github.com>
Installed-Size: $SIZE
Depends: python3 (>= 3.8), python3-venv, passwd
Section: misc
Priority: optional
Homepage: https://github.com/edge-operator-console/edge-operator-console
Description: Edge Operator Console device runtime
 The daemon on a robot that owns the model store, the job queue and the
 telemetry collectors, and talks to the Edge Operator Console over SSH.
CONTROL
cat > "$PKG/DEBIAN/postinst" <<'SCRIPT'
#!/bin/sh
set -e
if [ "$1" = "configure" ]; then
    PYTHON=/usr/bin/python3 /usr/share/edge-runtime/install.sh --wheels /opt/edge-runtime/wheels --unit-shipped
fi
exit 0
SCRIPT
cat > "$PKG/DEBIAN/prerm" <<'SCRIPT'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl disable --now edge-runtime.service >/dev/null 2>&1 || true
fi
# Without systemd, install.sh started the daemon itself: stop it through its socket.
if [ -S /run/edge-runtime/edge-runtime.sock ] && [ -x /opt/edge-runtime/bin/edge-runtime ]; then
    /opt/edge-runtime/bin/edge-runtime stop --socket /run/edge-runtime/edge-runtime.sock || true
fi
exit 0
SCRIPT
cat > "$PKG/DEBIAN/postrm" <<'SCRIPT'
#!/bin/sh
set -e
case "$1" in
    remove)
        rm -rf /opt/edge-runtime/venv /opt/edge-runtime/venvs /opt/edge-runtime/bin
        ;;
    purge)
        rm -rf /opt/edge-runtime/venv /opt/edge-runtime/venvs /opt/edge-runtime/bin /var/lib/edge-runtime \
            /run/edge-runtime
        if id edge-runtime >/dev/null 2>&1; then userdel edge-runtime || true; fi
        if getent group edge-runtime >/dev/null; then groupdel edge-runtime || true; fi
        ;;
esac
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
exit 0
SCRIPT
chmod 0755 "$PKG/DEBIAN/postinst" "$PKG/DEBIAN/prerm" "$PKG/DEBIAN/postrm"
mkdir -p "$OUT"
DEB="$OUT/edge-runtime_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Zgzip --build "$PKG" "$DEB" >/dev/null
echo "$DEB"
