#!/usr/bin/env bash
# Install the console and start it on the built-in local device ("This computer").
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/installers/dev/system-packages.sh" console  # the console's libraries only, no SSH server
bash "$ROOT/installers/dev/venv.sh" console
exec "$ROOT/.venv/bin/edge-console" "$@"
