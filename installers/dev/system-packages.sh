#!/usr/bin/env bash
# System packages on a bare Debian/Ubuntu machine (skipped elsewhere): the libraries the console's
# Qt needs, python3-venv for .venv, OpenSSH (server and client) that the SSH tests start on
# 127.0.0.1, and what the device-installer tests use: the system Python's venv and pip (install.sh
# and the .deb run on it), systemd's systemd-analyze (it checks the unit; nothing is started), and
# iproute2 and iptables, with which the bad-network tests put a device behind a faulty veth link,
# and sudo, as a robot's admin account uses it for the system install; and Prometheus, which the
# metrics tests start on 127.0.0.1 to scrape simulated robots (Debian's package also enables its own
# service on port 9090 where systemd runs; stop it with `systemctl disable --now prometheus` if unwanted).
# With "console" (what quickstart.sh asks) only the console's own needs: Qt's libraries, python3-venv
# and the SSH client tools; no SSH server is installed (it would start one on the laptop).
set -euo pipefail
PACKAGES=(libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libglib2.0-0
          libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0
          libxcb-render-util0 libxcb-image0 fonts-dejavu-core openssh-client python3-venv)
if [ "${1:-all}" != "console" ]; then
    PACKAGES+=(openssh-server python3-pip systemd iproute2 iptables sudo prometheus)
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "not a Debian-like system: install Qt 6's runtime libraries (EGL, xkbcommon, fontconfig) and OpenSSH" \
         "(sshd, ssh-keygen, ssh-agent) yourself" >&2
    exit 0
fi
missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing system packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
