#!/usr/bin/env bash
# bench_mupdate.sh: our MUPDATE master and slave against the real Cyrus 3.6 ones, in one run.
#
# What it measures (each figure for ours and for Cyrus, from the same Python client,
# scripts/bench_mupdate.py, on the same machine):
#
#   1. Write throughput: RESERVE+ACTIVATE pairs per second from 4 concurrent clients, each
#      waiting for every answer before its next command (what backends do). N_PAIRS pairs
#      (default 10,000) into an empty master. Target: ours >= 3x Cyrus.
#   2. Full slave resync, for each size in SCALES (default "100000 1000000"): the master holds
#      that many mailboxes; a slave with an empty mailboxes.db is started, and the time from
#      starting it until it serves (its banner arrives, which both implementations send only
#      after the first complete sync) is measured. Ours also logs the sync's own duration
#      (`synced N mailboxes ... in X ms`, also stored as the `slave.last_sync_ms` meta).
#      The slave's LIST is counted afterwards to check it holds every entry.
#      Targets: ours < 3 s at 1M, >= 5x faster than Cyrus.
#   3. Master memory: after loading, STREAMS (default 10) UPDATE connections (slaves, as far as
#      the master can tell: each takes the full dump and stays streaming) are attached, and
#      VmRSS/VmHWM (with RssAnon/RssFile) of the master process are compared with `du` of
#      its mailboxes.db. Target: ours < 2x the database size.
#
# How the masters are filled: ours over MUPDATE (pipelined ACTIVATEs on 100 connections, which
# the group commit turns into few transactions); Cyrus's by converting a `flat` file of the
# same entries, in the form a Cyrus master stores MUPDATE entries, with `cvt_cyrusdb` into
# twoskip: one fsync per MUPDATE write (or `ctl_mboxlist -u`, which commits per entry) would
# take hours at 1M. Its write rate is what part 1 measures.
#
# Run (as root: the Cyrus daemons run under cyrmaster, which drops to the `cyrus` user):
#
#   scripts/bench_mupdate.sh                       # everything, 100k and 1M
#   SCALES=100000 scripts/bench_mupdate.sh         # quicker
#   N_PAIRS=2000 SCALES=10000 CYRUS=no scripts/bench_mupdate.sh   # ours only, smoke run
#
# Needs: cargo, python3, and for Cyrus Debian's cyrus-imapd/cyrus-murder/sasl2-bin packages
# (/usr/lib/cyrus/bin/mupdate, /usr/sbin/cyrmaster, saslpasswd2). Work files go to BENCH_WORK
# (default /var/tmp/murder-bench-mupdate, readable by the cyrus user, wiped at the start);
# results to target/bench/mupdate-<time>.{md,jsonl} and stdout.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N_PAIRS=${N_PAIRS:-10000}
SCALES=${SCALES:-"100000 1000000"}
STREAMS=${STREAMS:-10}
CYRUS=${CYRUS:-auto}
WORK=${BENCH_WORK:-/var/tmp/murder-bench-mupdate}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET/release
TOOL=$ROOT/scripts/bench_mupdate.py
CYRBIN=/usr/lib/cyrus/bin
STAMP=$(date +%Y%m%dT%H%M%S)
OUTDIR=$ROOT/target/bench
MD=$OUTDIR/mupdate-$STAMP.md
JSONL=$OUTDIR/mupdate-$STAMP.jsonl

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
py() { python3 "$TOOL" "$@"; }
jget() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); v=d.get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"; }
record() { echo "$1" >> "$JSONL"; }  # record JSON
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ratio() { python3 -c 'import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print("%.1f" % (a/b) if b else "-")' "$1" "$2"; }
mib() { python3 -c 'import sys; print("%.1f" % (int(sys.argv[1])/1024))' "$1"; }

if [ "$CYRUS" = auto ]; then
    if [ -x "$CYRBIN/mupdate" ] && [ -x /usr/sbin/cyrmaster ] && command -v saslpasswd2 >/dev/null && [ "$(id -u)" = 0 ]; then
        CYRUS=yes
    else
        CYRUS=no
        log "Cyrus not available (or not root): measuring ours only"
    fi
fi

# --- processes we start; only these are ever signalled ------------------------------------
PIDS=()
CYRMASTERS=()
cleanup() {
    local p
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true; done
    for p in "${CYRMASTERS[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true; done
    sleep 0.5
    for p in "${PIDS[@]:-}" "${CYRMASTERS[@]:-}"; do [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

stop_pid() {  # stop_pid PID: TERM, wait, KILL
    local p=$1 i
    kill -TERM "$p" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
}

# --- build ---------------------------------------------------------------------------------
log "building release binaries"
(cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build -q --release -p murder-daemons --bins)
mkdir -p "$OUTDIR"
rm -rf "$WORK"
mkdir -p "$WORK"
chmod 0755 "$WORK"

# --- our daemons ---------------------------------------------------------------------------
# ours_host NAME [conf lines...]: a host directory with imapd.conf and a sasldb.
ours_host() {
    local name=$1 d=$WORK/ours-$1
    shift
    mkdir -p "$d/conf"
    {
        echo "configdirectory: $d/conf"
        echo "servername: $name"
        echo "sasl_sasldb_path: $d/sasldb"
        echo "allowplaintext: yes"
        echo "admins: mupduser slaveuser"
        echo "mupdate_connections_max: 256"
        local l
        for l in "$@"; do echo "$l"; done
    } > "$d/imapd.conf"
    echo secret | "$BIN/saslpasswd" -c -p -f "$d/sasldb" mupduser
    echo slavepw | "$BIN/saslpasswd" -c -p -f "$d/sasldb" slaveuser
    echo "$d"
}

# ours_start DIR [args...]: starts mupdate; sets PORT and PID.
ours_start() {
    local d=$1 i
    shift
    rm -f "$d/addr"
    "$BIN/mupdate" "$@" -C "$d/imapd.conf" --listen 127.0.0.1:0 --print-address \
        > "$d/addr" 2>> "$d/log" &
    PID=$!
    PIDS+=("$PID")
    for ((i = 0; i < 200; i++)); do [ -s "$d/addr" ] && break; sleep 0.05; done
    [ -s "$d/addr" ] || die "our mupdate did not start: $(cat "$d/log")"
    PORT=$(sed 's/.*://' "$d/addr")
    echo "$PID" > "$d/pid"
}

# --- Cyrus daemons -------------------------------------------------------------------------
# cy_host NAME PORT ROLE(master|slave) [MASTER_PORT]: config, sasldb, cyrus.conf.
cy_host() {
    local name=$1 port=$2 role=$3 mport=${4:-} d=$WORK/cyrus-$1
    mkdir -p "$d"/{etc,spool,run,log} "$d"/conf/{socket,proc,lock,log,db}
    {
        echo "configdirectory: $d/conf"
        echo "defaultpartition: default"
        echo "partition-default: $d/spool"
        echo "servername: $name"
        echo "syslog_prefix: bench-$name"
        echo "admins: mupduser slaveuser"
        echo "allowplaintext: yes"
        echo "sasl_pwcheck_method: auxprop"
        echo "sasl_auxprop_plugin: sasldb"
        echo "sasl_sasldb_path: $d/etc/sasldb2"
        echo "sasl_mech_list: PLAIN"
        echo "force_sasl_client_mech: PLAIN"
        echo "altnamespace: no"
        echo "unixhierarchysep: no"
        if [ "$role" = slave ]; then
            echo "mupdate_server: 127.0.0.1:$mport"
            echo "mupdate_authname: slaveuser"
            echo "mupdate_password: slavepw"
            echo "mupdate_retry_delay: 2"
        fi
    } > "$d/etc/imapd.conf"
    local C=$d/etc/imapd.conf m=""
    [ "$role" = master ] && m=" -m"
    cat > "$d/etc/cyrus.conf" <<EOF
START {
    recover cmd="ctl_cyrusdb -C $C -r"
}
SERVICES {
    mupdate cmd="mupdate -C $C$m" listen="127.0.0.1:$port" prefork=1
}
EVENTS {
}
EOF
    # SASL realm = servername for Cyrus.
    printf 'secret' | saslpasswd2 -p -c -f "$d/etc/sasldb2" -u "$name" mupduser
    printf 'slavepw' | saslpasswd2 -p -c -f "$d/etc/sasldb2" -u "$name" slaveuser
    chown -R cyrus:mail "$d"
    echo "$d"
}

cy_tool() {  # cy_tool DIR TOOL ARGS...
    local d=$1 t=$2
    shift 2
    setpriv --reuid=cyrus --regid=mail --init-groups -- "$CYRBIN/$t" -C "$d/etc/imapd.conf" "$@"
}

# cy_start DIR: starts cyrmaster; sets CPID (cyrmaster) and waits for its mupdate child (MPID).
cy_start() {
    local d=$1 i
    rm -f "$d/run/master.pid"
    /usr/sbin/cyrmaster -C "$d/etc/imapd.conf" -M "$d/etc/cyrus.conf" -p "$d/run/master.pid" \
        -d -L "$d/log/master.err" < /dev/null
    for ((i = 0; i < 100; i++)); do [ -s "$d/run/master.pid" ] && break; sleep 0.05; done
    CPID=$(tr -dc '0-9' < "$d/run/master.pid")
    CYRMASTERS+=("$CPID")
    MPID=""
    for ((i = 0; i < 200; i++)); do
        MPID=$(ps -o pid= --ppid "$CPID" -o comm= | awk '$2 == "mupdate" {print $1; exit}')
        [ -n "$MPID" ] && break
        sleep 0.05
    done
    echo "$MPID" > "$d/mupdate.pid"
}

status_line() {  # status_line PID: "rss hwm anon file" in KiB
    awk '/^VmRSS/{r=$2} /^VmHWM/{h=$2} /^RssAnon/{a=$2} /^RssFile/{f=$2} END{print r, h, a, f}' "/proc/$1/status"
}

ROWS=()
row() { ROWS+=("$1"); }

# ===========================================================================================
# 1. RESERVE+ACTIVATE pairs/s from 4 clients
# ===========================================================================================
log "1. $N_PAIRS RESERVE+ACTIVATE pairs from 4 clients: ours"
D=$(ours_host pairs)
ours_start "$D" -m
R=$(py pairs --port "$PORT" --clients 4 --n "$N_PAIRS" --prefix user.p)
record "{\"bench\":\"pairs\",\"impl\":\"ours\",\"result\":$R}"
OURS_PPS=$(jget "$R" pairs_per_s)
stop_pid "$PID"
row "| RESERVE+ACTIVATE pairs/s, 4 clients, $N_PAIRS pairs | $OURS_PPS | CYRUS_PPS | RATIO_PPS | >= 3x |"
CY_PPS=-
if [ "$CYRUS" = yes ]; then
    log "1. the same against Cyrus"
    CP=$(free_port)
    D=$(cy_host cpairs "$CP" master)
    cy_start "$D"
    py ready --port "$CP" --timeout 30 > /dev/null
    R=$(py pairs --port "$CP" --clients 4 --n "$N_PAIRS" --prefix user.p)
    record "{\"bench\":\"pairs\",\"impl\":\"cyrus\",\"result\":$R}"
    CY_PPS=$(jget "$R" pairs_per_s)
    stop_pid "$CPID"
fi
ROWS[-1]=${ROWS[-1]/CYRUS_PPS/$CY_PPS}
ROWS[-1]=${ROWS[-1]/RATIO_PPS/$( [ "$CY_PPS" = - ] && echo - || echo "$(ratio "$OURS_PPS" "$CY_PPS")x")}

# ===========================================================================================
# 2 and 3, per scale
# ===========================================================================================
for S in $SCALES; do
    log "scale $S: loading our master"
    D=$(ours_host "m$S")
    ours_start "$D" -m
    MASTER_PID=$PID
    MPORT=$PORT
    R=$(py load --port "$MPORT" --n "$S" --conns 100 --depth 100 --prefix user.u)
    record "{\"bench\":\"load\",\"impl\":\"ours\",\"scale\":$S,\"result\":$R}"
    LOAD_S=$(jget "$R" seconds)
    LOAD_RATE=$(jget "$R" per_s)
    log "loaded $S in $LOAD_S s ($LOAD_RATE/s)"

    log "scale $S: our slave resync"
    SD=$(ours_host "s$S" "mupdate_server: 127.0.0.1:$MPORT" "mupdate_authname: slaveuser" \
        "mupdate_password: slavepw" "mupdate_retry_delay: 2")
    T0=$(date +%s.%N)
    ours_start "$SD"
    SLAVE_PID=$PID
    R=$(py ready --port "$PORT" --timeout 600)
    T1=$(date +%s.%N)
    OURS_RESYNC=$(python3 -c "print(round($T1 - $T0, 3))")
    SYNC_MS=$(sed -n 's/.*synced \([0-9]*\) mailboxes.* in \([0-9]*\) ms.*/\2/p' "$SD/log" | tail -1)
    CNT=$(py count --port "$PORT" --user mupduser --password secret)
    record "{\"bench\":\"resync\",\"impl\":\"ours\",\"scale\":$S,\"wall_s\":$OURS_RESYNC,\"sync_ms\":\"$SYNC_MS\",\"slave_list\":$CNT}"
    [ "$(jget "$CNT" count)" = "$S" ] || log "WARNING: our slave lists $(jget "$CNT" count) of $S"
    stop_pid "$SLAVE_PID"

    log "scale $S: our master's memory with $STREAMS streams attached"
    coproc ATTACH { py attach --port "$MPORT" --streams "$STREAMS" --pidfile "$D/pid"; }
    read -r R <&"${ATTACH[0]}"
    exec {ATTACH[1]}>&-
    wait "$ATTACH_PID" 2>/dev/null || true
    record "{\"bench\":\"memory\",\"impl\":\"ours\",\"scale\":$S,\"result\":$R}"
    DB_KIB=$(du -sk "$D/conf/mailboxes.db" | cut -f1)
    read -r RSS HWM ANON FILE <<< "$(status_line "$MASTER_PID")"
    record "{\"bench\":\"memory_after\",\"impl\":\"ours\",\"scale\":$S,\"db_kib\":$DB_KIB,\"rss_kib\":$RSS,\"hwm_kib\":$HWM}"
    ATT_RSS=$(jget "$R" VmRSS_kib)
    ATT_HWM=$(jget "$R" VmHWM_kib)
    ATT_ANON=$(jget "$R" RssAnon_kib)
    ATT_FILE=$(jget "$R" RssFile_kib)
    DUMPS=$(jget "$R" all_dumps_s)
    stop_pid "$MASTER_PID"

    CY_RESYNC=-
    CY_SYNC_NOTE=""
    CY_MEM="-"
    if [ "$CYRUS" = yes ]; then
        log "scale $S: Cyrus master's mailboxes.db, converted from a flat file"
        CMP=$(free_port)
        CD=$(cy_host "cm$S" "$CMP" master)
        py cyrusflat --n "$S" --prefix user.u > "$WORK/flat-$S"
        chown cyrus:mail "$WORK/flat-$S"
        cy_tool "$CD" cvt_cyrusdb "$WORK/flat-$S" flat "$CD/conf/mailboxes.db" twoskip \
            > /dev/null 2> "$CD/log/cvt.err" || die "cvt_cyrusdb failed: $(cat "$CD/log/cvt.err")"
        rm -f "$WORK/flat-$S"
        cy_start "$CD"
        CM_CPID=$CPID
        CM_MPID=$MPID
        py ready --port "$CMP" --timeout 60 > /dev/null
        CC=$(py count --port "$CMP")
        [ "$(jget "$CC" count)" = "$S" ] || log "WARNING: the Cyrus master lists $(jget "$CC" count) of $S"

        log "scale $S: Cyrus slave resync"
        CSP=$(free_port)
        CSD=$(cy_host "cs$S" "$CSP" slave "$CMP")
        T0=$(date +%s.%N)
        cy_start "$CSD"
        CS_CPID=$CPID
        R=$(py ready --port "$CSP" --timeout 1800)
        T1=$(date +%s.%N)
        if [ -n "$(jget "$R" ready_after_s)" ]; then
            CY_RESYNC=$(python3 -c "print(round($T1 - $T0, 3))")
            CNT=$(py count --port "$CSP")
            [ "$(jget "$CNT" count)" = "$S" ] || { log "WARNING: the Cyrus slave lists $(jget "$CNT" count) of $S"; CY_SYNC_NOTE=" (incomplete)"; }
        else
            CY_RESYNC="> 1800"
            CNT='{"count": null}'
        fi
        record "{\"bench\":\"resync\",\"impl\":\"cyrus\",\"scale\":$S,\"wall_s\":\"$CY_RESYNC\",\"slave_list\":$CNT}"
        stop_pid "$CS_CPID"

        log "scale $S: Cyrus master's memory with $STREAMS streams attached"
        echo "$CM_MPID" > "$CD/mupdate.pid"
        coproc CATTACH { py attach --port "$CMP" --streams "$STREAMS" --pidfile "$CD/mupdate.pid"; }
        read -r R <&"${CATTACH[0]}"
        exec {CATTACH[1]}>&-
        wait "$CATTACH_PID" 2>/dev/null || true
        CDB_KIB=$(du -sk "$CD/conf/mailboxes.db" | cut -f1)
        record "{\"bench\":\"memory\",\"impl\":\"cyrus\",\"scale\":$S,\"db_kib\":$CDB_KIB,\"result\":$R}"
        CY_MEM="RSS $(mib "$(jget "$R" VmRSS_kib)") MiB, HWM $(mib "$(jget "$R" VmHWM_kib)") MiB; db $(mib "$CDB_KIB") MiB"
        stop_pid "$CM_CPID"
    fi

    RATIO=-
    [ "$CY_RESYNC" != - ] && [[ "$CY_RESYNC" != ">"* ]] && RATIO="$(ratio "$CY_RESYNC" "$OURS_RESYNC")x"
    row "| full slave resync, $S mailboxes (start to serving) | ${OURS_RESYNC} s (sync itself ${SYNC_MS:-?} ms) | ${CY_RESYNC} s${CY_SYNC_NOTE} | $RATIO faster | $( [ "$S" = 1000000 ] && echo "< 3 s, >= 5x" || echo ">= 5x") |"
    row "| master memory, $S mailboxes, $STREAMS streams attached | RSS $(mib "$ATT_RSS") MiB (anon $(mib "$ATT_ANON"), file $(mib "$ATT_FILE")), HWM $(mib "$ATT_HWM") MiB; db $(mib "$DB_KIB") MiB: RSS/db $(ratio "$ATT_RSS" "$DB_KIB"), HWM/db $(ratio "$ATT_HWM" "$DB_KIB") | $CY_MEM | | < 2x db |"
    row "| load $S ACTIVATEs (100 pipelined conns; $STREAMS dumps took ${DUMPS} s) | ${LOAD_S} s (${LOAD_RATE}/s) | (cvt_cyrusdb) | | |"
done

{
    echo "# MUPDATE benchmark, $STAMP"
    echo
    echo "Machine: $(nproc) cores, $(free -g | awk '/^Mem/{print $2}') GiB; ours: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo ?);"\
         "Cyrus: $(dpkg-query -W -f '${Version}' cyrus-common 2>/dev/null || echo n/a)"
    echo
    echo "| measurement | ours | Cyrus 3.6 | ours vs Cyrus | target |"
    echo "|---|---|---|---|---|"
    for r in "${ROWS[@]}"; do echo "$r"; done
    echo
    echo "Raw figures: $JSONL"
} | tee "$MD"
log "written $MD"
