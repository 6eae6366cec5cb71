#!/usr/bin/env bash
# Benchmark of `scalebench sweep`: 1000 settings of workloads/scenarios/spike-5x.toml on every
# core (the target: under a minute on 2 cores). The grid varies the KEDA setup's target,
# maximum and the warm pool of every setup, so each of the 1000 settings is a distinct KEDA
# run (plus 10 distinct runs each of the fixed and HPA setups, which ignore the KEDA keys):
# 1020 simulations of 30 minutes of traffic, about 0.5 M requests each. Prints the sweep's own
# timing line, the wall time and the peak memory, once per run.
# Usage: bench/sweep-1000.sh [runs, default 3] [threads, default: every core]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
THREADS=${2:-$(nproc)}
cargo build --release -q
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
echo "sweep of 1000 settings of spike-5x on $THREADS threads ($(nproc) cores), $RUNS runs"
for i in $(seq "$RUNS"); do
    /usr/bin/time -f "run $i: wall %e s, peak RSS %M KiB" \
        target/release/scalebench sweep workloads/scenarios/spike-5x.toml \
        --vary keda.target=1..10 --vary warm_pool=0..9 --vary keda.max_replicas=20..38/2 \
        --threads "$THREADS" --out "$OUT" 2>&1 >"$OUT/stdout" | grep -v '^\s*$'
    grep -E "settings x|simulations in|cheapest" "$OUT/stdout"
done
