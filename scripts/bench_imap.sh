#!/bin/bash
# IMAP figures of our imapd beside Cyrus 3.6's backend1 imapd (127.0.0.1:11143, from
# /work/shared/cyrus-murder), measured in one run (tests/examples/bench_imap.rs):
#   APPEND/s of a 10 KB message over 8 connections (interleaved runs, medians),
#   FETCH 1:* (ENVELOPE FLAGS) of 10,000 messages (best of 3),
#   resident memory per idle authenticated connection (1000 of ours; Cyrus, one process per
#   connection, with as many as its service allows).
# Prints one JSON line per measurement and a summary line.
#
# Usage: scripts/bench_imap.sh [SECS=10] [RUNS=3]
# Env:   BENCH_CONNS (8), BENCH_FETCH (10000; 0 skips), BENCH_IDLE (1000), BENCH_CYRUS_IDLE (90),
#        CYRUS_MURDER (/work/shared/cyrus-murder), NO_CYRUS=1 (ours only).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECS=${1:-10}; RUNS=${2:-3}
MURDER=${CYRUS_MURDER:-/work/shared/cyrus-murder}
STATE=${CYRUS_MURDER_STATE:-/var/tmp/cyrus-murder}
export BENCH_SECS=$SECS BENCH_RUNS=$RUNS BENCH_CONNS=${BENCH_CONNS:-8}
# 1000 idle connections need as many descriptors on each side.
ulimit -n 8192 2>/dev/null || true

if [ -z "${NO_CYRUS:-}" ]; then
  # The Cyrus murder is shared: use it, never (re)start it here (up.sh wipes its state).
  status=$("$MURDER/ctl.sh" status 2>/dev/null || true)
  if ! grep -q '^backend1: running' <<<"$status"; then
    echo "the Cyrus murder is not running (ask for $MURDER/up.sh, or set NO_CYRUS=1)" >&2
    exit 1
  fi
  # The benchmark users' INBOXes on backend1 (created through the frontend, as
  # bench_lmtp.sh does).
  python3 - "$BENCH_CONNS" <<'PY'
import imaplib, sys, time
n = int(sys.argv[1])
users = ["bu%02d" % i for i in range(1, n + 1)]
for attempt in range(10):
    missing = []
    for u in users:
        try:
            c = imaplib.IMAP4("127.0.0.1", 11143); c.login(u, "benchpw")
            if c.select("INBOX")[0] != "OK":
                missing.append(u)
            c.logout()
        except Exception:
            missing.append(u)
    if not missing:
        break
    try:
        c = imaplib.IMAP4("127.0.0.1", 10143); c.login("cyrus", "secret")
        for u in missing:
            print("creating user." + u, c._simple_command("CREATE", "user." + u, "backend1!default"), file=sys.stderr)
        c.logout()
    except Exception as e:
        print("create failed:", e, file=sys.stderr)
    time.sleep(2)
else:
    sys.exit("cannot create the benchmark users on backend1: %s" % missing)
PY
  export BENCH_CYRUS=127.0.0.1:11143
  export BENCH_CYRUS_CONF="$STATE/backend1/etc/imapd.conf"
fi

cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build -q --release -p murder-daemons --bins
MURDER_DAEMONS_BUILT=1 cargo run -q --release -p murder-tests --example bench_imap
