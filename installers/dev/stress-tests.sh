#!/usr/bin/env bash
# Run the GUI tests N times and the whole suite M times with CPU hogs beside them, and count
# passes, failures, crashes and hangs. A flaky test is a defect: this is how to find one.
#
#   installers/dev/stress-tests.sh [--ui N] [--full M] [--hogs H] [--limit SECONDS] [--keep DIR]
#
# Each run is one pytest process under `timeout`. It counts as
#   pass   pytest exited 0;
#   fail   pytest exited 1 with failed tests;
#   crash  pytest died of a signal (a segfault, an abort);
#   hang   a per-test timeout fired (pytest-timeout prints "Timeout") or the run passed --limit.
# The log of every run that did not pass is kept (in --keep, default a temp dir) and named.
# Needs the venv that installers/test.sh makes.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
UI_RUNS=20
FULL_RUNS=3
HOGS=2
LIMIT=3600
KEEP=""
while [ $# -gt 0 ]; do
    case "$1" in
        --ui) UI_RUNS="$2"; shift 2 ;;
        --full) FULL_RUNS="$2"; shift 2 ;;
        --hogs) HOGS="$2"; shift 2 ;;
        --limit) LIMIT="$2"; shift 2 ;;
        --keep) KEEP="$2"; shift 2 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || { echo "no .venv: run installers/test.sh once first" >&2; exit 2; }
KEEP="${KEEP:-$(mktemp -d -t eoc-stress-XXXXXX)}"
mkdir -p "$KEEP"
export QT_QPA_PLATFORM=offscreen

HOG_PIDS=()
stop_hogs() {
    for pid in "${HOG_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    wait 2>/dev/null
}
trap stop_hogs EXIT
for _ in $(seq 1 "$HOGS"); do
    sh -c 'while :; do :; done' &
    HOG_PIDS+=("$!")
done

declare -A COUNT
run_set() {  # name runs pytest-args...
    local name="$1" runs="$2"; shift 2
    local i code outcome log
    COUNT["$name.pass"]=0; COUNT["$name.fail"]=0; COUNT["$name.crash"]=0; COUNT["$name.hang"]=0
    for i in $(seq 1 "$runs"); do
        log="$KEEP/$name-$i.log"
        local started=$SECONDS
        timeout --signal=KILL "$LIMIT" "$PY" -m pytest -q -p no:cacheprovider "$@" >"$log" 2>&1
        code=$?
        if grep -q "+++++* Timeout +++++*" "$log" || { [ "$code" -eq 137 ] && [ $((SECONDS - started)) -ge "$LIMIT" ]; }; then
            outcome=hang
        elif [ "$code" -eq 0 ]; then
            outcome=pass
        elif [ "$code" -gt 128 ] || grep -q "Fatal Python error" "$log"; then
            outcome=crash
        else
            outcome=fail
        fi
        COUNT["$name.$outcome"]=$((COUNT["$name.$outcome"] + 1))
        printf '%s run %d/%d: %s (exit %d, %ds)%s\n' "$name" "$i" "$runs" "$outcome" "$code" \
            $((SECONDS - started)) "$([ "$outcome" = pass ] && rm -f "$log" || echo ", log $log")"
    done
}

echo "== $HOGS CPU hogs beside every run; logs of runs that did not pass go to $KEEP"
[ "$UI_RUNS" -gt 0 ] && run_set ui "$UI_RUNS" tests/ui
[ "$FULL_RUNS" -gt 0 ] && run_set full "$FULL_RUNS"
echo "== summary"
status=0
for name in ui full; do
    [ -n "${COUNT[$name.pass]+x}" ] || continue
    printf '%-5s pass %d  fail %d  crash %d  hang %d\n' "$name" "${COUNT[$name.pass]}" "${COUNT[$name.fail]}" \
        "${COUNT[$name.crash]}" "${COUNT[$name.hang]}"
    [ $((COUNT[$name.fail] + COUNT[$name.crash] + COUNT[$name.hang])) -eq 0 ] || status=1
done
exit "$status"
