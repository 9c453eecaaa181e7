#!/bin/bash
# Sieve filtering cost at delivery: LMTP deliveries per second of a 10 KB message over 8
# pre-authenticated connections with no script and with a 50-rule active script (no rule
# matches, so storage work is the same), for our lmtpd and for a private Cyrus 3.6 lmtpd
# (started by the test harness; script compiled with sievec and activated by the `defaultbc`
# symlink), runs interleaved. Prints JSON lines and a summary with medians and the filtering
# cost in percent of delivery time. Cyrus needs root and /usr/lib/cyrus; without, ours only.
#
# Usage: scripts/bench_sieve.sh [SECS=10] [RUNS=3]
# Env:   BENCH_CONNS (8), NO_CYRUS=1 (ours only).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export BENCH_SECS=${1:-10} BENCH_RUNS=${2:-3} BENCH_CONNS=${BENCH_CONNS:-8}
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build -q --release -p murder-daemons --bins
MURDER_DAEMONS_BUILT=1 cargo test -q --release -p murder-tests --test lmtpd_sieve \
  bench_sieve_throughput -- --ignored --nocapture 2>&1 | grep -E -A1 '^[{]|panicked|no Cyrus'
