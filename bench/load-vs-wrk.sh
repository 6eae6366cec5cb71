#!/usr/bin/env bash
# Benchmark of the live load engine against wrk (and oha, when `cargo install oha` put it on
# the PATH) on one nginx on loopback, in the same run: the highest rate each sustains, the
# schedule lag at half of scalebench's, and memory over a long run. Every client gets one
# thread, as nginx gets one worker: on a 2-core machine that is one core each. Installs
# nginx-light and wrk from Debian's packages if they are missing.
# Usage: bench/load-vs-wrk.sh [long-run seconds, default 600]
set -euo pipefail
cd "$(dirname "$0")/.."
LONG=${1:-600}
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
    apt-get install -y -q nginx-light wrk >/dev/null
fi
cargo build --release -q
BIN=target/release/scalebench
WORK=$(mktemp -d)
trap 'nginx -p "$WORK" -c "$WORK/nginx.conf" -s stop 2>/dev/null || true; rm -rf "$WORK"' EXIT
PORT=$((20000 + RANDOM % 20000))
mkdir -p "$WORK/logs"
cat > "$WORK/nginx.conf" <<CONF
worker_processes 1;
error_log $WORK/logs/error.log;
pid $WORK/nginx.pid;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 10000000;
  server { listen 127.0.0.1:$PORT; location / { return 200 '{"ok":true}'; } }
}
CONF
nginx -p "$WORK" -c "$WORK/nginx.conf"
URL=http://127.0.0.1:$PORT/
echo "== wrk (closed loop, 1 thread, 64 connections, 10 s)"
wrk -t1 -c64 -d10s "$URL" | grep -E "Requests/sec|Latency"
if command -v oha >/dev/null; then
    echo "== oha (closed loop, 64 connections, 10 s; its runtime's threads)"
    oha -z 10s -c 64 --no-tui "$URL" | grep -E "Requests/sec"
fi
echo "== scalebench calibrate (open loop, 1 thread, 64 connections as wrk, steps of 5 s, SLO p99 <= 20 ms)"
$BIN calibrate "$URL" --workers 1 --connections 64 --fixed-connections --start 20000 --factor 1.1 --step 5s \
    --slo 20ms --out "$WORK/cal" | tail -4
MAX=$(python3 -c "import json;print(json.load(open('$WORK/cal/calibration.json'))['sustainable_rps'] or 0)")
HALF=$(python3 -c "print(int($MAX/2))")
echo "== scalebench load at half of it ($HALF rps, 30 s): schedule lag"
$BIN load "$URL" --workers 1 --connections 64 --fixed-connections --rate "$HALF" --duration 30s --out "$WORK/half" \
    | grep -A3 "Load engine"
echo "== memory over $LONG s at $HALF rps (RSS in MiB every 30 s)"
$BIN load "$URL" --workers 1 --connections 64 --fixed-connections --rate "$HALF" --duration "${LONG}s" \
    --out "$WORK/long" >/dev/null &
PID=$!
while kill -0 $PID 2>/dev/null; do
    sleep 30
    ps -o rss= -p $PID 2>/dev/null | awk '{printf "%.1f ", $1/1024}'
done
echo
wait $PID || true
