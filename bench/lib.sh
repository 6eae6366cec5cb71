# Shared by the load benchmarks (sourced, not run): one nginx with one worker on 127.0.0.1
# answering `{"ok":true}` to everything, stopped and removed on exit, and the one-line summary
# of a `scalebench load` report.

# start_nginx: installs nginx-light if missing, starts it in a fresh $WORK, sets $URL.
start_nginx() {
    if ! command -v nginx >/dev/null; then
        apt-get install -y -q nginx-light >/dev/null
    fi
    WORK=$(mktemp -d)
    trap 'nginx -p "$WORK" -c "$WORK/nginx.conf" -s stop 2>/dev/null || true; rm -rf "$WORK"' EXIT
    local port=$((20000 + RANDOM % 20000))
    mkdir -p "$WORK/logs"
    cat > "$WORK/nginx.conf" <<CONF
worker_processes 1;
error_log $WORK/logs/error.log;
pid $WORK/nginx.pid;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 10000000;
  server { listen 127.0.0.1:$port; location / { return 200 '{"ok":true}'; } }
}
CONF
    nginx -p "$WORK" -c "$WORK/nginx.conf"
    URL=http://127.0.0.1:$port/
}

# summary REPORT RATE NAME SECONDS: one line of a load report: sent, p99 from the intended
# send time, schedule lag, the engine's verdict on itself, and whether the rate was sustained
# (every request answered ok, p99 under 20 ms).
summary() {
    python3 - "$@" <<'PY'
import json, sys
path, rate, name, secs = sys.argv[1], float(sys.argv[2]), sys.argv[3], float(sys.argv[4])
r = json.load(open(path))["setups"][0]
q, l, g = r["requests"], r["latency_ms"], r.get("load") or {}
lim = g.get("generator_limited")
reasons = ",".join(x["reason"] for x in lim["reasons"]) if lim else "-"
p99 = l["p99"] if l["p99"] is not None else float("inf")
ok = q["not_sent"] == 0 and q["ok"] == q["scheduled"] and p99 < 20
lag = (g.get("schedule_lag_ms") or {}).get("p99") or 0.0
print(f"  {name:<22} {rate:>9.0f} rps  ok {q['ok']/secs:>9.0f}/s  not sent {q['not_sent']:>7}"
      f"  p99 {p99:>8.2f} ms  lag p99 {lag:>7.3f} ms  threads {g.get('shards')}  conns {g.get('max_connections')}"
      f"  engine-limited {reasons:<18} {'SUSTAINED' if ok else 'not sustained'}")
PY
}
