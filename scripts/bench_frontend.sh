#!/bin/bash
# Frontend benchmark (issue 5), release builds. Brings up a small murder of ours in a temporary
# directory (MUPDATE master, backend1 with imapd and lmtpd, a frontend with the slave, proxyd
# and lmtpproxyd), and measures beside the real Cyrus 3.6 murder of /work/shared/cyrus-murder
# (frontend 127.0.0.1:10143, backend1 direct 127.0.0.1:11143, users bu01..bu20 / benchpw):
#
#   1. IMAP sessions/s, CLIENTS concurrent clients, each session a new connection doing LOGIN,
#      SELECT INBOX, FETCH 1:10 (FLAGS ENVELOPE), LOGOUT: our frontend, our backend direct,
#      Cyrus's frontend, Cyrus's backend direct; runs interleaved, medians reported.
#      Targets: ours frontend/direct >= 0.85; ours frontend >= 2x Cyrus frontend.
#   2. Resident memory per idle proxied session (LOGIN + SELECT, then idle) in our proxyd.
#      Target <= 100 KiB.
#   3. LMTP deliveries/s through our lmtpproxyd (and our lmtpd direct, Cyrus's lmtpproxyd).
#
# PIN=1 models a frontend on its own host (a real murder's layout): our proxyd runs on CPU 1,
# everything else of ours (backend, master, slave, the load generator) on CPU 0, so the proxy's
# work does not take CPU from the backend. Unpinned, all four share both CPUs, and the ratio
# measures the proxy's CPU cost on a shared box as much as its overhead. Cyrus's murder is not
# pinned (this script does not start it), so PIN=1 skips the Cyrus figures.
#
# Both frontends log in to their backends with PLAIN (`force_sasl_client_mech: PLAIN`, as the
# Cyrus murder's configuration has it); without it ours would pick SCRAM-SHA-256.
#
# The Cyrus murder is shared: this script never starts or stops it. When it is not up, the
# Cyrus figures are skipped (NO_CYRUS=1 skips them too).
#
# Usage: scripts/bench_frontend.sh [SECS=10] [RUNS=3]
# Env:   PIN=1 (see above), CLIENTS (50), BENCH_USERS (8), IDLE (200), MSGS per INBOX (300, as the Cyrus bench users have),
#        LMTP_CONNS (8), CARGO_TARGET_DIR, KEEP=1 (keep the temporary directory),
#        NO_BUILD=1 (use the release binaries as they are).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECS=${1:-10}; RUNS=${2:-3}
CLIENTS=${CLIENTS:-50}; IDLE=${IDLE:-200}; MSGS=${MSGS:-300}; LMTP_CONNS=${LMTP_CONNS:-8}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PY="python3 $ROOT/scripts/bench_frontend.py"
PIN=${PIN:-}
if [ -n "$PIN" ]; then PY="taskset -c 0 $PY"; fi
# The Cyrus murder's bench users that hold an INBOX (bench_lmtp.sh creates bu01..bu08).
USERS=$(printf 'bu%02d,' $(seq 1 "${BENCH_USERS:-8}")); USERS=${USERS%,}

cd "$ROOT"
[ -n "${NO_BUILD:-}" ] || CARGO_TARGET_DIR=$TARGET cargo build -q --release -p murder-daemons --bins
BIN=$TARGET/release

WORK=$(mktemp -d /tmp/bench-frontend.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

# host NAME KEY=VALUE... : a config dir with imapd.conf.
host() {
  local name=$1; shift
  mkdir -p "$WORK/$name/conf"
  {
    echo "configdirectory: $WORK/$name/conf"
    echo "servername: $name"
    echo "sasl_sasldb_path: $WORK/$name/sasldb"
    echo "partition-default: $WORK/$name/spool"
    echo "allowplaintext: yes"
    echo "failedloginpause: 0"
    for kv in "$@"; do echo "${kv%%=*}: ${kv#*=}"; done
  } > "$WORK/$name/imapd.conf"
}
# user HOST NAME PASSWORD
user() { echo "$3" | "$BIN/saslpasswd" -c -p -f "$WORK/$1/sasldb" "$2"; }
# start HOST PROGRAM ARGS... : starts it on an ephemeral port; sets ADDR and PID.
start() {
  local h=$1 prog=$2; shift 2
  local out="$WORK/$h/$prog.addr"
  local cpu=()
  [ -n "$PIN" ] && cpu=(taskset -c "${CPU:-0}")
  "${cpu[@]}" "$BIN/$prog" "$@" -C "$WORK/$h/imapd.conf" --listen 127.0.0.1:0 --print-address \
    > "$out" 2>> "$WORK/$h/$prog.log" &
  PID=$!; PIDS+=("$PID")
  for _ in $(seq 1 200); do
    [ -s "$out" ] && break
    sleep 0.05
  done
  ADDR=$(head -1 "$out")
  [ -n "$ADDR" ] || { echo "$prog did not start:"; cat "$WORK/$h/$prog.log"; exit 1; }
}

host mupdate admins="backend1 frontend"
user mupdate backend1 secret; user mupdate frontend secret
start mupdate mupdate -m; MASTER=$ADDR

host backend1 admins=cyrus proxyservers=murder lmtp_admins=murder altnamespace=no \
  unixhierarchysep=no mupdate_server="$MASTER" mupdate_authname=backend1 mupdate_password=secret
for u in cyrus murder; do user backend1 $u secret; done
for u in ${USERS//,/ }; do user backend1 "$u" benchpw; done
start backend1 imapd; B_IMAP=$ADDR
start backend1 lmtpd -a; B_LMTP=$ADDR

host frontend admins=cyrus altnamespace=no unixhierarchysep=no mupdate_server="$MASTER" \
  mupdate_authname=frontend mupdate_password=secret proxy_authname=murder proxy_password=secret \
  force_sasl_client_mech=PLAIN \
  backend1_imap="$B_IMAP" backend1_lmtp="$B_LMTP"
user frontend cyrus secret
for u in ${USERS//,/ }; do user frontend "$u" benchpw; done
start frontend mupdate
CPU=1 start frontend proxyd; F_IMAP=$ADDR; PROXYD_PID=$PID
start frontend lmtpproxyd -a; F_LMTP=$ADDR

# The users' INBOXes with MSGS messages each (created directly on the backend, filled by LMTP).
python3 - "$B_IMAP" "$B_LMTP" "$USERS" "$MSGS" <<'PY'
import imaplib, smtplib, sys
h, p = sys.argv[1].rsplit(":", 1)
c = imaplib.IMAP4(h, int(p)); c.login("cyrus", "secret")
users = sys.argv[3].split(",")
for u in users:
    typ, data = c.create("user." + u)
    assert typ == "OK", data
c.logout()
h, p = sys.argv[2].rsplit(":", 1)
l = smtplib.LMTP(h, int(p))
for i in range(int(sys.argv[4])):
    for u in users:
        l.sendmail("s@example.org", [u], b"From: s@example.org\r\nTo: %s@example.org\r\nSubject: message %d\r\n\r\nbody\r\n" % (u.encode(), i))
l.quit()
PY
# The frontend's slave must know them before the frontend can route.
for _ in $(seq 1 100); do
  if python3 - "$F_IMAP" "${USERS##*,}" <<'PY' 2>/dev/null
import imaplib, sys
h, p = sys.argv[1].rsplit(":", 1)
c = imaplib.IMAP4(h, int(p)); c.login(sys.argv[2], "benchpw")
sys.exit(0 if c.select("INBOX")[0] == "OK" else 1)
PY
  then break; fi
  sleep 0.2
done

CYRUS=1
if [ -n "${NO_CYRUS:-}" ] || [ -n "$PIN" ] || ! python3 -c '
import imaplib; c = imaplib.IMAP4("127.0.0.1", 10143); c.login("bu01", "benchpw"); c.logout()' 2>/dev/null; then
  echo "# the Cyrus murder (127.0.0.1:10143) is not up, or NO_CYRUS or PIN is set: Cyrus figures skipped" >&2
  CYRUS=
fi

RESULTS=$WORK/results.jsonl
echo "# $CLIENTS clients, ${SECS}s per measurement, $RUNS runs; $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)${PIN:+; pinned: our proxyd on CPU 1, the rest on CPU 0}"
for run in $(seq 1 "$RUNS"); do
  for t in "ours-frontend $F_IMAP" "ours-direct $B_IMAP" ${CYRUS:+"cyrus-frontend 127.0.0.1:10143" "cyrus-direct 127.0.0.1:11143"}; do
    set -- $t
    line=$($PY imap "$2" "$SECS" "$CLIENTS" "$USERS" benchpw)
    echo "{\"run\": $run, \"name\": \"$1\", ${line#\{}" | tee -a "$RESULTS"
  done
done

$PY idle "$F_IMAP" "$IDLE" "$USERS" benchpw "$PROXYD_PID" | tee -a "$RESULTS"

for t in "ours-lmtpproxyd $F_LMTP" "ours-lmtpd-direct $B_LMTP" ${CYRUS:+"cyrus-lmtpproxyd 127.0.0.1:10024 cyrus secret"}; do
  set -- $t
  line=$($PY lmtp "$2" "$SECS" "$LMTP_CONNS" "$USERS" ${3:-} ${4:-})
  echo "{\"name\": \"$1\", ${line#\{}" | tee -a "$RESULTS"
done

python3 - "$RESULTS" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(name, key="sessions_per_s"):
    v = [r[key] for r in rows if r.get("name") == name and key in r]
    return statistics.median(v) if v else None
of, od, cf, cd = (med(n) for n in ("ours-frontend", "ours-direct", "cyrus-frontend", "cyrus-direct"))
print("IMAP sessions/s (median): ours frontend %s, ours direct %s, Cyrus frontend %s, Cyrus direct %s" % (of, od, cf, cd))
if of and od:
    print("ours frontend/direct = %.2f (target >= 0.85)" % (of / od))
if of and cf:
    print("ours frontend / Cyrus frontend = %.2f (target >= 2)" % (of / cf))
if cf and cd:
    print("Cyrus frontend/direct = %.2f" % (cf / cd))
for r in rows:
    if "kib_per_session" in r:
        print("proxyd RSS per idle proxied session: %s KiB (%d sessions; %d -> %d KiB; target <= 100)" % (
            r["kib_per_session"], r["idle_sessions"], r["rss_before_kib"], r["rss_after_kib"]))
    if "deliveries_per_s" in r:
        print("LMTP %s: %s deliveries/s (%d errors)" % (r["name"], r["deliveries_per_s"], r["errors"]))
PY
