#!/usr/bin/env bash
# The live engine's own HTTP/1.1 client (live/src/h1.rs) against hyper's
# (`hyper::client::conn::http1`, live/src/hyper1.rs) in the same shard, in one run, on one
# nginx on loopback (one worker) as bench/load-vs-wrk.sh: rounds alternate own and hyper.
#   (a) the highest rate each sustains: a `calibrate` ramp from 20,000 rps in steps of 10%
#       (3 s each) with p99 <= 20 ms, 1 thread and 64 fixed connections;
#   (b) the CPU time (user + system) of the scalebench process per request, and the schedule
#       lag p99, at one fixed rate for both (60% of the own client's median sustainable rate)
#       for 10 s. (The shard polls in a loop within 2 ms of a due instant, so at any rate
#       above 500 rps this CPU time is mostly the pacing loop's, whichever client.)
#   (c) saturated: 64 requests in flight on the 64 connections (arrivals beyond are not sent),
#       200,000 rps offered for 5 s: the rate answered and the CPU time per answer, which
#       does not depend on an SLO that a busy machine's scheduler breaks.
# Prints every round and a table of medians with the ratio hyper/own. Installs nginx-light and
# wrk from Debian's packages if they are missing.
# Usage: bench/h1-vs-hyper.sh [rounds, default 3]
#   START=... starts (a)'s ramp elsewhere (on a busy machine 20,000 may already break the SLO),
#   RATE=... fixes (b)'s rate.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
cargo build --release -q -p scalebench
BIN=target/release/scalebench
. bench/lib.sh
start_nginx
COMMON=(--workers 1 --connections 64 --fixed-connections)
START=${START:-20000}
json() { python3 -c "import json,sys;d=json.load(open(sys.argv[1]));print($2)" "$1"; }

echo "== (a) sustainable rate: calibrate from $START rps, x1.1 per 3 s step, p99 <= 20 ms"
for round in $(seq "$ROUNDS"); do
    for client in own hyper; do
        out="$WORK/cal-$client-$round"
        $BIN calibrate "$URL" "${COMMON[@]}" --h1-client "$client" --start "$START" --factor 1.1 \
            --step 3s --slo 20ms --out "$out" >/dev/null 2>&1
        rps=$(json "$out/calibration.json" "d['sustainable_rps'] or 0")
        printf '%s round %s: %.0f rps\n' "$client" "$round" "$rps"
        echo "$rps" >>"$WORK/rps-$client"
    done
done
RATE=${RATE:-$(python3 -c "import statistics;print(int(0.6*statistics.median(float(v) for v in open('$WORK/rps-own'))))")}
if [ "$RATE" -le 0 ]; then
    echo "(no rate sustained: the machine is too busy for a 20 ms p99; (b) runs at 15,000 rps)"
    RATE=15000
fi

echo "== (b) at $RATE rps for 10 s: CPU time of scalebench per request, schedule lag p99"
for round in $(seq "$ROUNDS"); do
    for client in own hyper; do
        out="$WORK/load-$client-$round"
        /usr/bin/time -o "$out.time" -f '%U %S' $BIN load "$URL" "${COMMON[@]}" \
            --h1-client "$client" --rate "$RATE" --duration 10s --out "$out" >/dev/null 2>&1
        cpu=$(tail -1 "$out.time")
        ok=$(json "$out/report.json" "d['setups'][0]['requests']['ok']")
        lag=$(json "$out/report.json" "d['setups'][0]['load']['schedule_lag_ms']['p99']")
        us=$(python3 -c "u,s='$cpu'.split();print(1e6*(float(u)+float(s))/max($ok,1))")
        printf '%s round %s: %s ok, CPU %s s (user sys), %.2f us/request, lag p99 %.3f ms\n' \
            "$client" "$round" "$ok" "$cpu" "$us" "$lag"
        echo "$us" >>"$WORK/cpu-$client"
        echo "$lag" >>"$WORK/lag-$client"
    done
done

echo "== (c) saturated for 5 s: 64 requests in flight on 64 connections, 200,000 rps offered"
for round in $(seq "$ROUNDS"); do
    for client in own hyper; do
        out="$WORK/sat-$client-$round"
        /usr/bin/time -o "$out.time" -f '%U %S' $BIN load "$URL" "${COMMON[@]}" \
            --h1-client "$client" --max-in-flight 64 --rate 200000 --duration 5s --out "$out" \
            >/dev/null 2>&1
        cpu=$(tail -1 "$out.time")
        ok=$(json "$out/report.json" "d['setups'][0]['requests']['ok']")
        read -r done us < <(python3 -c "u,s='$cpu'.split();print($ok/5, 1e6*(float(u)+float(s))/max($ok,1))")
        printf '%s round %s: %.0f rps answered, CPU %s s (user sys), %.2f us/request\n' \
            "$client" "$round" "$done" "$cpu" "$us"
        echo "$done" >>"$WORK/sat-$client"
        echo "$us" >>"$WORK/satcpu-$client"
    done
done

echo "== medians of $ROUNDS rounds [range]"
python3 - "$WORK" <<'PY'
import statistics, sys
work = sys.argv[1]
def fmt(x):
    return f"{x:.0f}" if x >= 1000 else f"{x:.4g}"
def vals(name, client):
    return [float(v) for v in open(f"{work}/{name}-{client}").read().split()]
print(f"{'figure':<24}{'own':>30}{'hyper':>30}{'hyper/own':>11}")
for name, what in [("rps", "sustainable rps"), ("cpu", "CPU us per request"), ("lag", "schedule lag p99 ms"),
                  ("sat", "saturated rps"), ("satcpu", "saturated CPU us/req")]:
    cells, med = [], {}
    for c in ("own", "hyper"):
        v = vals(name, c)
        med[c] = statistics.median(v)
        cells.append(f"{fmt(med[c])} [{fmt(min(v))}-{fmt(max(v))}]")
    ratio = med["hyper"] / med["own"] if med["own"] else float("nan")
    print(f"{what:<24}{cells[0]:>30}{cells[1]:>30}{ratio:>11.3f}")
PY
