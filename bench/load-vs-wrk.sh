#!/usr/bin/env bash
# The live load engine beside wrk and oha on one nginx (one worker) on 127.0.0.1, in the same
# run, three rounds alternating, as users run it: scalebench with its DEFAULTS (no flags), and
# beside it the tuned flags (--workers 1 --connections 64 --fixed-connections, wrk's shape).
# Per round: wrk -t1 -c64 and oha -c64 (closed loop, 10 s; oha only when `cargo install oha`
# put it on the PATH), then `scalebench load` at 0.9x that round's wrk rate and at oha's rate
# (open loop, 10 s): sustained means every request sent and p99 from the intended send time
# under 20 ms, with the engine's own verdict (load.generator_limited) beside it. Then the
# schedule lag at half of wrk's rate (30 s) and memory over a long run at that rate.
# Installs nginx-light and wrk from Debian's packages if they are missing.
# Usage: bench/load-vs-wrk.sh [long-run seconds, default 600] [rounds, default 3]
set -euo pipefail
cd "$(dirname "$0")/.."
LONG=${1:-600}
ROUNDS=${2:-3}
if ! command -v wrk >/dev/null; then
    apt-get install -y -q wrk >/dev/null
fi
cargo build --release -q --bin scalebench
BIN=$PWD/target/release/scalebench
. bench/lib.sh
start_nginx
TUNED=(--workers 1 --connections 64 --fixed-connections)

# `load RATE NAME [flags]`: 10 s of open-loop load; prints one line of figures.
load() {
    local rate=$1 name=$2
    shift 2
    "$BIN" load "$URL" --rate "$rate" --duration 10s --slo 20ms --out "$WORK/$name" "$@" >/dev/null 2>&1 || true
    summary "$WORK/$name/report.json" "$rate" "$name" 10
}

rate_of() { python3 -c "import sys; print(int(float(sys.argv[1]) * float(sys.argv[2])))" "$1" "$2"; }

declare -a WRK OHA
for round in $(seq 1 "$ROUNDS"); do
    echo "== round $round"
    w=$(wrk -t1 -c64 -d10s "$URL" | awk '/Requests\/sec/ {print $2}')
    WRK+=("$w")
    echo "  wrk -t1 -c64                 $w rps (closed loop)"
    if command -v oha >/dev/null; then
        o=$(oha -z 10s -c 64 --no-tui "$URL" | awk '/Requests\/sec/ {print $2}')
        OHA+=("$o")
        echo "  oha -c64                     $o rps (closed loop)"
    fi
    r=$(rate_of "$w" 0.9)
    load "$r" "defaults-0.9wrk" | tee -a "$WORK/verdicts"
    load "$r" "tuned-0.9wrk" "${TUNED[@]}" | tee -a "$WORK/verdicts"
    if command -v oha >/dev/null; then
        load "$(rate_of "$o" 1.0)" "defaults-1.0oha" | tee -a "$WORK/verdicts"
    fi
done
echo "== sustained (every request answered ok, p99 under 20 ms) in $ROUNDS rounds"
for v in defaults-0.9wrk tuned-0.9wrk defaults-1.0oha; do
    n=$(grep -c "^  $v .* SUSTAINED$" "$WORK/verdicts" || true)
    printf '  %-18s %s of %s\n' "$v" "$n" "$ROUNDS"
done
MEDIAN=$(printf '%s\n' "${WRK[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
HALF=$(rate_of "$MEDIAN" 0.5)
echo "== schedule lag at half of wrk's median ($HALF rps, 30 s), defaults then tuned"
for v in defaults tuned; do
    flags=()
    [ "$v" = tuned ] && flags=("${TUNED[@]}")
    "$BIN" load "$URL" --rate "$HALF" --duration 30s --out "$WORK/half-$v" "${flags[@]}" >/dev/null 2>&1 || true
    python3 - "$WORK/half-$v/report.json" "$v" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))["setups"][0]["load"]
s = g["schedule_lag_ms"]
print(f"  {sys.argv[2]:<9} lag p50 {s['p50']:.3f} ms  p99 {s['p99']:.3f} ms  max {s['max']:.1f} ms"
      f"  (pacing p99 {g.get('pacing_lag_ms', {}).get('p99')} ms, connection wait p99"
      f" {g.get('connection_wait_ms', {}).get('p99')} ms, threads {g.get('shards')}, connections {g.get('max_connections')})")
PY
done
echo "== memory over $LONG s at $HALF rps with the defaults (RSS in MiB every 30 s)"
"$BIN" load "$URL" --rate "$HALF" --duration "${LONG}s" --out "$WORK/long" >/dev/null 2>&1 &
PID=$!
while kill -0 $PID 2>/dev/null; do
    sleep 30
    # (The run may have ended during the sleep: no sample then.)
    ps -o rss= -p $PID 2>/dev/null | awk '{printf "%.1f ", $1/1024}' || true
done
echo
wait $PID || true
