#!/usr/bin/env bash
# Import a backend's mailbox list into the MUPDATE master: the seed's `ctl_mboxlist -mw`
# (show the plan) then `ctl_mboxlist -m` (carry it out), as one rerunnable step.
#
# Usage: runbook_import_mailboxes.sh [--dry-run] [--winner MAILBOX=BACKEND,...] BACKEND
#
# 1. Shows the plan (murderresync BACKEND: Remove from MUPDATE / Force Activate / ...).
# 2. Unless --dry-run, carries it out (murderresync --yes) and kicks the frontend slaves.
# 3. Compares the whole murder (murderdiff) and exits with its status: 0 in sync,
#    1 differences left (e.g. a mailbox on two backends: name the winner with --winner),
#    2 a list could not be read.
# Safe to rerun: a backend already in sync has an empty plan.
source "$(dirname "$0")/lib/runbook.sh"

WINNER=""
while [ $# -gt 0 ]; do
    case $1 in
        --dry-run|-n) DRY_RUN=1; shift ;;
        --winner) WINNER="--winner $2"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) break ;;
    esac
done
[ $# -eq 1 ] || die "usage: $0 [--dry-run] [--winner MAILBOX=BACKEND,...] BACKEND"
BACKEND=$1

say "== plan for $BACKEND (as ctl_mboxlist -mw)"
# murderresync without --yes only shows the plan; its status is 1 when there is work.
if m -e "murderresync $TOPO $WINNER $BACKEND" </dev/null; then
    say "== $BACKEND: nothing to import"
elif [ "$DRY_RUN" = 1 ]; then
    say "dry run: nothing changed"
    exit 0
else
    say "== importing (as ctl_mboxlist -m)"
    m -e "murderresync $TOPO --yes $WINNER $BACKEND" || true
fi
if [ "$DRY_RUN" = 1 ]; then
    say "dry run: nothing changed"
    exit 0
fi
say "== the whole murder"
m -e "murderdiff $TOPO"
