#!/usr/bin/env bash
# The live load engine over HTTP/2 (h2c, prior knowledge) beside h2load, in the same run, on one
# nghttpd (one thread) on 127.0.0.1 serving a small file, three rounds alternating: h2load
# (closed loop, 1 thread, 1 connection, 100 streams, 10 s), `scalebench load --http2` with its
# defaults at 0.9x and 1.0x that round's h2load rate (open loop, 10 s): sustained means every
# request sent and p99 from the intended send time under 20 ms; then the highest rate it
# sustains (`calibrate --http2` from 20,000 rps, x1.1 per 3 s step, p99 <= 20 ms) and what
# ended the ramp (the target or the load engine). Installs nghttp2-client
# (h2load) and nghttp2-server (nghttpd) from Debian's packages if they are missing.
# Usage: bench/h2-vs-h2load.sh [rounds, default 3]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
if ! command -v h2load >/dev/null || ! command -v nghttpd >/dev/null; then
    apt-get install -y -q nghttp2-client nghttp2-server >/dev/null
fi
cargo build --release -q --bin scalebench
BIN=$PWD/target/release/scalebench
. bench/lib.sh
WORK=$(mktemp -d)
PORT=$((20000 + RANDOM % 20000))
mkdir -p "$WORK/www"
printf '{"ok":true}' > "$WORK/www/ok"
nghttpd --no-tls -n 1 -d "$WORK/www" "$PORT" >/dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 50); do
    curl -s --http2-prior-knowledge "http://127.0.0.1:$PORT/ok" >/dev/null && break
    sleep 0.1
done
URL=http://127.0.0.1:$PORT/ok

load() {
    local rate=$1 name=$2
    "$BIN" load "$URL" --http2 --rate "$rate" --duration 10s --slo 20ms --out "$WORK/$name" >/dev/null 2>&1 || true
    summary "$WORK/$name/report.json" "$rate" "$name" 10
}

rate_of() { python3 -c "import sys; print(int(float(sys.argv[1]) * float(sys.argv[2])))" "$1" "$2"; }

for round in $(seq 1 "$ROUNDS"); do
    echo "== round $round"
    h=$(h2load -t1 -c1 -m100 -D10 "$URL" | awk '/^finished in/ {print $4}')
    echo "  h2load -t1 -c1 -m100           $h req/s (closed loop)"
    load "$(rate_of "$h" 0.9)" "scalebench-0.9h2load"
    load "$(rate_of "$h" 1.0)" "scalebench-1.0h2load"
done
echo "== scalebench calibrate --http2 (defaults; from 20,000 rps, x1.1 per 3 s step, p99 <= 20 ms)"
for round in $(seq 1 "$ROUNDS"); do
    "$BIN" calibrate "$URL" --http2 --start 20000 --factor 1.1 --step 3s --slo 20ms \
        --out "$WORK/cal-$round" >/dev/null 2>&1 || true
    python3 - "$WORK/cal-$round/calibration.json" "$round" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
print(f"  round {sys.argv[2]}: sustained {c['sustainable_rps'] or 0:.0f} rps; ended by {c['limited_by']}")
PY
done
