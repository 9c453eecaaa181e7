#!/bin/bash
# LMTP delivery throughput: a 10 KB message over 8 concurrent connections (pipelined
# MAIL/RCPT/DATA, AUTH PLAIN as an admin on TCP), against our lmtpd and against Cyrus 3.6's
# backend1 lmtpd (127.0.0.1:11024, from /work/shared/cyrus-murder), interleaved in one run.
# Prints one JSON line per run and a summary line with the medians and their ratio.
#
# Usage: scripts/bench_lmtp.sh [SECS=10] [RUNS=3]
# Env:   BENCH_CONNS (8), CYRUS_MURDER (/work/shared/cyrus-murder), NO_CYRUS=1 (ours only).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECS=${1:-10}; RUNS=${2:-3}
MURDER=${CYRUS_MURDER:-/work/shared/cyrus-murder}
export BENCH_SECS=$SECS BENCH_RUNS=$RUNS BENCH_CONNS=${BENCH_CONNS:-8}

if [ -z "${NO_CYRUS:-}" ]; then
  # The Cyrus murder is shared by every helper and test: use it, never (re)start it here
  # (up.sh wipes its state).
  status=$("$MURDER/ctl.sh" status 2>/dev/null || true)
  if ! grep -q '^backend1: running' <<<"$status"; then
    echo "the Cyrus murder is not running (ask for $MURDER/up.sh, or set NO_CYRUS=1)" >&2
    exit 1
  fi
  # The benchmark users bu01..buNN on backend1 (created through the frontend, as bench.py does).
  python3 - "$BENCH_CONNS" <<'PY'
import imaplib, smtplib, sys, time
n = int(sys.argv[1])
users = ["bu%02d" % i for i in range(1, n + 1)]
def missing():
    l = smtplib.LMTP("127.0.0.1", 11024); l.ehlo_or_helo_if_needed(); l.login("cyrus", "secret")
    l.mail("x@example.org")
    m = [u for u in users if l.rcpt(u)[0] != 250]
    l.rset(); l.quit()
    return m
for attempt in range(10):
    m = missing()
    if not m:
        break
    try:
        c = imaplib.IMAP4("127.0.0.1", 10143); c.login("cyrus", "secret")
        for u in m:
            print("creating user." + u, c._simple_command("CREATE", "user." + u, "backend1!default"), file=sys.stderr)
        c.logout()
    except Exception as e:
        print("create failed:", e, file=sys.stderr)
    time.sleep(2)
else:
    sys.exit("cannot create the benchmark users on backend1: %s" % m)
PY
  export BENCH_CYRUS=127.0.0.1:11024
fi

cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build -q --release -p murder-daemons --bins
MURDER_DAEMONS_BUILT=1 cargo run -q --release -p murder-tests --example bench_lmtp
