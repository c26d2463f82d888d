#!/usr/bin/env bash
# Install the edge-runtime daemon on a device, offline, from a wheelhouse.
#
#   sudo installers/device/install.sh --wheels DIR [--prefix /opt/edge-runtime]
#        [--state /var/lib/edge-runtime] [--no-service] [--user-unit] [--operator USER]
#
# The runtime goes into its own virtual environment that also sees the system's packages, so
# JetPack's `tensorrt` Python bindings stay importable. A new environment is built beside the old
# one and swapped in only once it works: a failed install leaves the previous runtime running.
# With root (and without --no-service) it creates the `edge-runtime` user and group, installs the
# hardened systemd unit and starts it (--operator USER joins the group that may use the socket).
# Without root, --user-unit installs a user unit instead and starts it when a user systemd runs.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WHEELS=""
PREFIX="/opt/edge-runtime"
STATE="/var/lib/edge-runtime"
SERVICE=1
WRITE_UNIT=1
USER_UNIT=0
OPERATOR=""
PYTHON="${PYTHON:-python3}"
UNIT_DIR="${UNIT_DIR:-/etc/systemd/system}"
while [ $# -gt 0 ]; do
    case "$1" in
        --wheels) WHEELS="$2"; shift 2 ;;
        --prefix) PREFIX="$2"; shift 2 ;;
        --state) STATE="$2"; shift 2 ;;
        --no-service) SERVICE=0; shift ;;
        --unit-shipped) WRITE_UNIT=0; shift ;;  # the .deb ships the rendered unit itself
        --user-unit) USER_UNIT=1; SERVICE=0; shift ;;
        --operator) OPERATOR="$2"; shift 2 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
fail() { echo "install.sh: $*" >&2; exit 1; }
# A robot's shell often carries a PYTHONPATH (ROS sets one): it must not leak into the runtime's
# environment or make pip think the runtime is already installed.
unset PYTHONPATH PYTHONHOME PYTHONUSERBASE
# useradd, runuser and friends live in sbin, which a non-login shell's PATH may lack.
export PATH="$PATH:/usr/sbin:/sbin"
[ -n "$WHEELS" ] && [ -d "$WHEELS" ] || fail "give the wheelhouse directory with --wheels DIR (build it with wheelhouse.sh)"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 8) else 1)' \
    || fail "the runtime needs Python 3.8 or newer; $PYTHON is $("$PYTHON" -V 2>&1)"
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null \
    || fail "$PYTHON cannot create virtual environments: install python3-venv"
if [ "$SERVICE" -eq 1 ] && [ "$(id -u)" -ne 0 ]; then
    fail "installing the system service needs root: run with sudo, or pass --no-service"
fi

mkdir -p "$PREFIX/bin" "$PREFIX/venvs"
# Each install gets its own environment; `venv` is a symlink swapped by rename once the new one
# works, so the running runtime is never touched by a failed install.
NEW="$PREFIX/venvs/$(date +%Y%m%d%H%M%S)-$$"
echo "creating the runtime environment in $NEW"
"$PYTHON" -m venv --system-site-packages "$NEW"
if ! "$NEW/bin/python" -m pip install -q --no-index --find-links "$WHEELS" "edge-operator-console[device]"; then
    rm -rf "$NEW"
    fail "installing from $WHEELS failed (is the wheelhouse for this platform and Python?); the previous runtime, if any, is unchanged"
fi
if ! "$NEW/bin/edge-runtime" --version >/dev/null; then
    rm -rf "$NEW"
    fail "the new runtime does not start; the previous runtime, if any, is unchanged"
fi
OLD="$(readlink "$PREFIX/venv" 2>/dev/null || true)"
ln -sfn "$NEW" "$PREFIX/venv.tmp"
mv -T "$PREFIX/venv.tmp" "$PREFIX/venv"
ln -sfn "$PREFIX/venv/bin/edge-runtime" "$PREFIX/bin/edge-runtime"
# Keep the previous environment (for a manual step back); drop any older ones.
for dir in "$PREFIX"/venvs/*; do
    [ "$dir" = "$NEW" ] || [ "$dir" = "$OLD" ] || rm -rf "$dir"
done
echo "installed $("$PREFIX/bin/edge-runtime" --version)"

if [ "$USER_UNIT" -eq 1 ]; then
    # A user unit (no User=/Group=), lingering so it runs without a login when the system allows it.
    UNITS="${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user"
    mkdir -p "$UNITS"
    sed -e "s#@EXEC@#$PREFIX/bin/edge-runtime#g" -e "s#@STATE@#$STATE#g" \
        "$HERE/edge-runtime-user.service.in" > "$UNITS/edge-runtime.service.tmp"
    mv "$UNITS/edge-runtime.service.tmp" "$UNITS/edge-runtime.service"
    if systemctl --user show-environment >/dev/null 2>&1; then
        systemctl --user daemon-reload
        systemctl --user enable edge-runtime.service >/dev/null
        systemctl --user restart edge-runtime.service
        if loginctl enable-linger "$(id -un)" 2>/dev/null; then
            echo "edge-runtime.service (user unit) is running and lingers: it starts at boot"
        else
            echo "edge-runtime.service (user unit) is running; lingering was refused, so it starts at login" \
                "(an admin can run: loginctl enable-linger $(id -un))"
        fi
    else
        echo "no user systemd runs here: $UNITS/edge-runtime.service is written but not started;" \
            "the bridge starts the runtime when the console connects"
    fi
    exit 0
fi
if [ "$SERVICE" -eq 0 ]; then
    echo "not installing the service (--no-service); start it with: $PREFIX/bin/edge-runtime serve"
    exit 0
fi
getent group edge-runtime >/dev/null || groupadd --system edge-runtime
if ! id edge-runtime >/dev/null 2>&1; then
    useradd --system --gid edge-runtime --home-dir "$STATE" --no-create-home \
        --shell /usr/sbin/nologin --comment "Edge Operator Console runtime" edge-runtime
fi
getent group video >/dev/null && usermod -aG video edge-runtime
# jetson-stats' socket (/run/jtop.sock) is root:jtop 0660: the jtop collector needs the group.
if getent group jtop >/dev/null; then usermod -aG jtop edge-runtime; fi
if [ -n "$OPERATOR" ]; then
    usermod -aG edge-runtime "$OPERATOR"
    echo "$OPERATOR joined the edge-runtime group (it applies from the next login)"
fi
install -d -m 0750 -o edge-runtime -g edge-runtime "$STATE"
if [ "$WRITE_UNIT" -eq 1 ]; then
    mkdir -p "$UNIT_DIR"
    sed -e "s#@EXEC@#$PREFIX/bin/edge-runtime#g" -e "s#@STATE@#$STATE#g" \
        "$HERE/edge-runtime.service.in" > "$UNIT_DIR/edge-runtime.service.tmp"
    mv "$UNIT_DIR/edge-runtime.service.tmp" "$UNIT_DIR/edge-runtime.service"
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable edge-runtime.service >/dev/null
    systemctl restart edge-runtime.service
    echo "edge-runtime.service is running; operators join the edge-runtime group to reach it"
else
    # No systemd (a container, or an image booted without it): run the daemon now as the
    # edge-runtime user, the way the unit would, so the console can connect at once.
    SOCKET=/run/edge-runtime/edge-runtime.sock
    install -d -m 0750 -o edge-runtime -g edge-runtime /run/edge-runtime
    if [ -S "$SOCKET" ]; then
        "$PREFIX/bin/edge-runtime" stop --socket "$SOCKET" >/dev/null 2>&1 || true
    fi
    rm -f "$SOCKET"  # a stale one would read as ready below
    # setpriv execs the daemon itself (no process left waiting as root), in the groups the
    # service user has (edge-runtime, video, jtop).
    (umask 0007; setsid setpriv --reuid=edge-runtime --regid=edge-runtime --init-groups --reset-env \
        "$PREFIX/bin/edge-runtime" serve --socket "$SOCKET" --root "$STATE" \
        </dev/null >>"$STATE/daemon.log" 2>&1 &)
    for _ in $(seq 1 300); do
        [ -S "$SOCKET" ] && break
        sleep 0.1  # the daemon signals readiness only by creating its socket
    done
    [ -S "$SOCKET" ] || fail "the runtime did not start as edge-runtime; see $STATE/daemon.log"
    echo "systemd is not running here: started the runtime as edge-runtime (log: $STATE/daemon.log);" \
        "edge-runtime.service starts it on a boot with systemd"
fi
