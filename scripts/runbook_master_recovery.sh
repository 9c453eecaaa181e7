#!/usr/bin/env bash
# Recover after a master outage (the master restarted, or its mailboxes.db lost): push every
# backend's list to the master again (ctl_mboxlist -m on each backend), then check every
# frontend slave against the master.
#
# Usage: runbook_master_recovery.sh [--dry-run] [--winner MAILBOX=BACKEND,...]
#
# 1. murderstatus: the master must be up again (exit 2 if not: start it first).
# 2. For each backend: the plan, then (unless --dry-run) murderresync --yes.
# 3. Each slave: runbook_check_frontend.sh (restarts a local slave that is behind).
# 4. murderdiff over the whole murder; its status is the script's (0 in sync).
# Safe to rerun: backends in sync have empty plans.
source "$(dirname "$0")/lib/runbook.sh"
need_jq

ARGS=()
WINNER=()
while [ $# -gt 0 ]; do
    case $1 in
        --dry-run|-n) DRY_RUN=1; ARGS+=(--dry-run); shift ;;
        --winner) WINNER=(--winner "$2"); shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) die "unknown argument $1" ;;
    esac
done

say "== 1. the master"
status=$(m -o json -e "murderstatus $TOPO" || true)
echo "$status" | any_row '.role=="master" and .up' \
    || die "the master does not answer: start it first ($(echo "$status" | jq -r 'select(.role=="master") | .address'))"
say "the master is up"

say "== 2. every backend"
rc=0
for b in $(echo "$status" | jq -r 'select(.role=="backend") | .name'); do
    if ! echo "$status" | any_row '.role=="backend" and .name==$b and .up' --arg b "$b"; then
        say "$b is down: skipped (rerun once it is up)"
        rc=1
        continue
    fi
    say "-- $b: plan"
    if m -e "murderresync $TOPO ${WINNER[*]} $b" </dev/null; then
        continue
    fi
    if [ "$DRY_RUN" = 0 ]; then
        say "-- $b: pushing"
        m -e "murderresync $TOPO --yes ${WINNER[*]} $b" || rc=1
    fi
done

say "== 3. every slave"
"$(dirname "$0")/runbook_check_frontend.sh" "${ARGS[@]}" || rc=$?

if [ "$DRY_RUN" = 1 ]; then
    say "dry run: nothing changed"
    exit 0
fi
say "== 4. the whole murder"
m -e "murderdiff $TOPO" || rc=$?
exit "$rc"
