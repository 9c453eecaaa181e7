#!/bin/bash
# Bulk move throughput (users per minute): `movemailboxes` moving USERS users with MSGS
# messages each between the two backends of a local murder (release build, `murder local up`
# in a temporary MURDER_HOME), once with --parallel 1 and once with --parallel 4, back and
# forth. Prints one JSON summary line per run (its `per_minute` is the figure) and a closing
# line with both figures.
#
# Usage: scripts/bench_bulkmove.sh [USERS=200] [MSGS=10] [PARALLEL="1 4"]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
USERS=${1:-200}; MSGS=${2:-10}; PARALLEL=${3:-"1 4"}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
cd "$ROOT"
cargo build -q --release -p murder-shell --bin murder
BIN="$CARGO_TARGET_DIR/release/murder"

export MURDER_HOME; MURDER_HOME=$(mktemp -d /tmp/bench-bulkmove.XXXXXX)
export MURDER_AUTOSTART=0
# A base port whose murder ports are all free.
for base in $(seq 40000 200 60000); do
  busy=0
  for off in 905 3905 143 110 24 1143 1110 1024 2143 2110 2024; do
    if (exec 3<>/dev/tcp/127.0.0.1/$((base + off))) 2>/dev/null; then busy=1; break; fi
  done
  [ $busy = 0 ] && break
done
export MURDER_BASE_PORT=$base
trap '"$BIN" local down >/dev/null 2>&1 || true; rm -rf "$MURDER_HOME"' EXIT
"$BIN" local up >/dev/null

# The users on backend1 (IMAP CREATE as the admin), then MSGS messages each through the
# frontend's LMTP (one transaction per message, every user a recipient).
python3 - "$USERS" "$MSGS" "$base" "$MURDER_HOME/admin.pw" <<'PY'
import imaplib, smtplib, sys, time, subprocess, os
users, msgs, base, pwfile = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
pw = open(pwfile).read().strip()
names = ["bench%05d" % i for i in range(users)]
c = imaplib.IMAP4("127.0.0.1", base + 1143)
c.login("admin", pw)
for n in names:
    typ, data = c.create("user." + n)
    if typ != "OK":
        sys.exit("CREATE user.%s: %s" % (n, data))
c.logout()
# The frontend learns of them from the master.
time.sleep(2)
l = smtplib.LMTP("127.0.0.1", base + 24)
for k in range(msgs):
    l.mail("bench@example.org")
    for n in names:
        code, msg = l.rcpt(n + "@example.org")
        if code != 250:
            sys.exit("RCPT %s: %s %s" % (n, code, msg))
    body = ("From: bench@example.org\r\nSubject: message %d\r\n\r\n" % k) + ("line %d of the body\r\n" % k) * 100
    # LMTP answers DATA once per recipient; smtplib reads the first answer only.
    code, msg = l.data(body.encode())
    for n in names[1:]:
        code, msg = l.getreply()
        if code != 250:
            sys.exit("DATA for %s: %s %s" % (n, code, msg))
l.quit()
PY

target=backend2
for p in $PARALLEL; do
  "$BIN" --no-connect -o json -e "mmove --parallel $p --journal $MURDER_HOME/j-$p.jsonl user.bench* $target" \
    | tail -1 | tee "$MURDER_HOME/summary-$p.json"
  target=$([ $target = backend2 ] && echo backend1 || echo backend2)
done
python3 - "$USERS" "$MSGS" "$MURDER_HOME" $PARALLEL <<'PY'
import json, sys
users, msgs, home = sys.argv[1], sys.argv[2], sys.argv[3]
parts = []
for p in sys.argv[4:]:
    s = json.load(open("%s/summary-%s.json" % (home, p)))
    if s["failed"] or s["moved"] != int(users):
        sys.exit("parallel %s: %s" % (p, s))
    parts.append("parallel %s: %.0f users/min (%.1f s)" % (p, s["per_minute"], s["seconds"]))
print("bulk move of %s users x %s messages: %s" % (users, msgs, "; ".join(parts)))
PY
