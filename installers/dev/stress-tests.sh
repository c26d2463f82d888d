#!/usr/bin/env bash
# Run the GUI tests N times and the whole suite M times with CPU hogs beside them, and count
# passes, failures, crashes and hangs. A flaky test is a defect: this is how to find one.
#
#   installers/dev/stress-tests.sh [--ui N] [--full M] [--hogs H] [--parallel P] [--limit SECONDS] [--keep DIR]
#
# --parallel P runs P GUI runs at once (each its own pytest, daemons and temp dirs), which loads
# the machine more than the hogs alone; full runs always go one at a time.
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
PARALLEL=1
KEEP=""
while [ $# -gt 0 ]; do
    case "$1" in
        --ui) UI_RUNS="$2"; shift 2 ;;
        --full) FULL_RUNS="$2"; shift 2 ;;
        --hogs) HOGS="$2"; shift 2 ;;
        --limit) LIMIT="$2"; shift 2 ;;
        --parallel) PARALLEL="$2"; shift 2 ;;
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

one_run() {  # name i runs pytest-args...: runs pytest once and appends "name outcome" to $KEEP/.outcomes
    local name="$1" i="$2" runs="$3"; shift 3
    local log="$KEEP/$name-$i.log" started=$SECONDS code outcome
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
    echo "$name $outcome" >>"$KEEP/.outcomes"
    printf '%s run %d/%d: %s (exit %d, %ds, %s)%s\n' "$name" "$i" "$runs" "$outcome" "$code" \
        $((SECONDS - started)) "$(tail -n 1 "$log" | tr -d '=' | xargs)" \
        "$([ "$outcome" = pass ] && rm -f "$log" || echo ", log $log")"
}

run_set() {  # name runs at-once pytest-args...
    local name="$1" runs="$2" at_once="$3"; shift 3
    local i
    for i in $(seq 1 "$runs"); do
        while [ "$(jobs -rp | wc -l)" -ge $((HOGS + at_once)) ]; do wait -n; done
        one_run "$name" "$i" "$runs" "$@" &
    done
    while [ "$(jobs -rp | wc -l)" -gt "$HOGS" ]; do wait -n; done
}

echo "== $HOGS CPU hogs beside every run; $PARALLEL GUI runs at once; logs of runs that did not pass go to $KEEP"
echo "== at $(git rev-parse --short HEAD 2>/dev/null || echo '?') on $(nproc) cores, started $(date -u '+%Y-%m-%d %H:%M UTC')"
: >"$KEEP/.outcomes"
[ "$UI_RUNS" -gt 0 ] && run_set ui "$UI_RUNS" "$PARALLEL" tests/ui
[ "$FULL_RUNS" -gt 0 ] && run_set full "$FULL_RUNS" 1  # one at a time: the suite installs system-wide as root
echo "== summary (ended $(date -u '+%H:%M UTC'))"
status=0
for name in ui full; do
    total=$(grep -c "^$name " "$KEEP/.outcomes")
    [ "$total" -gt 0 ] || continue
    printf '%-5s' "$name"
    for outcome in pass fail crash hang; do
        printf '  %s %d' "$outcome" "$(grep -c "^$name $outcome$" "$KEEP/.outcomes")"
    done
    echo
    [ "$(grep -c "^$name pass$" "$KEEP/.outcomes")" -eq "$total" ] || status=1
done
exit "$status"
