#!/usr/bin/env bash
# Check that each frontend's mailbox database (its MUPDATE slave's copy) matches the master,
# and bring a local slave that is behind (stopped, or cut off) back in step.
#
# Usage: runbook_check_frontend.sh [--dry-run] [SLAVE]
#
# 1. murderdiff, keeping the findings about slaves (SLAVE only, when named).
# 2. None: exit 0. Some: they are listed; with --dry-run, exit 1 there.
# 3. The local murder: the slave is restarted (a slave resyncs in full when it connects),
#    then checked again until it matches (30 s). Another murder: you are told to restart
#    that frontend's mupdate slave, and the exit status is 1.
# Safe to rerun: a slave in step is left alone.
source "$(dirname "$0")/lib/runbook.sh"
need_jq

while [ $# -gt 0 ]; do
    case $1 in
        --dry-run|-n) DRY_RUN=1; shift ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) break ;;
    esac
done
SLAVE=${1:-}

# Lines of murderdiff about slaves (kinds missing-on-slave, extra-on-slave, slave-differs).
slave_findings() {
    m -o json -e "murderdiff $TOPO" 2>/dev/null \
        | jq -r --arg s "$SLAVE" 'select(.type=="murder_difference" and (.kind|test("slave"))
            and ($s=="" or .place==$s)) | "\(.kind) \(.place): \(.mailbox)"' || true
}

found=$(slave_findings)
if [ -z "$found" ]; then
    say "every frontend slave matches the master"
    exit 0
fi
say "frontend slaves out of step with the master:"
printf '  %s\n' "$found"
if ! is_local; then
    say "restart the mupdate slave on each frontend named above (it resyncs in full on connect)"
    exit 1
fi
change "restart the local frontend's slave" "$MURDER" local restart slave
[ "$DRY_RUN" = 1 ] && exit 1
for _ in $(seq 60); do
    if [ -z "$(slave_findings)" ]; then
        say "every frontend slave matches the master"
        exit 0
    fi
    sleep 0.5
done
say "still out of step after the restart:"
slave_findings
exit 1
