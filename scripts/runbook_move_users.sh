#!/usr/bin/env bash
# Move a list of users to another backend, through a frontend (the seed's
# `rename user.x user.x backend!partition`, which the frontend carries out as an XFER).
#
# Usage: runbook_move_users.sh [--dry-run] [--partition P] TARGET USERS_FILE
#
# USERS_FILE: one user name per line (`alice`, or `user.alice`); blank lines and # comments
# are skipped. For each user the master is asked where user.NAME is:
#   * already on TARGET: skipped (so a rerun after an interruption resumes);
#   * unknown to the master: reported as failed;
#   * elsewhere: renamed onto TARGET, then the master is asked again to confirm.
# One user at a time, simply: this loop needs nothing but rename and murderlist. For long
# lists use the shell's bulk move (`mmove --parallel N --file USERS_FILE TARGET`), which runs
# several at once with a progress bar and a journal that resumes an interrupted run.
# Exits 0 when every user is on TARGET, 1 when some failed. --dry-run only plans.
source "$(dirname "$0")/lib/runbook.sh"
need_jq

PARTITION=default
while [ $# -gt 0 ]; do
    case $1 in
        --dry-run|-n) DRY_RUN=1; shift ;;
        --partition) PARTITION=$2; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) break ;;
    esac
done
[ $# -eq 2 ] || die "usage: $0 [--dry-run] [--partition P] TARGET USERS_FILE"
TARGET=$1
FILE=$2
[ -r "$FILE" ] || die "cannot read $FILE"

# The server part of user.NAME's location at the master, or nothing.
where() {
    m -o json -e "murderlist $TOPO user.$1" \
        | jq -r --arg mb "user.$1" 'select(.mailbox==$mb) | .location' \
        | sed 's/!.*//'
}

moved=0 skipped=0 failed=0 planned=0
while IFS= read -r line || [ -n "$line" ]; do
    u=${line%%#*}
    u=$(echo "$u" | tr -d '[:space:]')
    u=${u#user.}
    [ -n "$u" ] || continue
    from=$(where "$u")
    if [ -z "$from" ]; then
        say "FAILED $u: the master has no user.$u"
        failed=$((failed + 1))
    elif [ "$from" = "$TARGET" ]; then
        say "skip   $u: already on $TARGET"
        skipped=$((skipped + 1))
    elif [ "$DRY_RUN" = 1 ]; then
        say "dry run: would move $u from $from to $TARGET!$PARTITION"
        planned=$((planned + 1))
    elif ! out=$(fcmd "rename user.$u user.$u $TARGET!$PARTITION" 2>&1); then
        say "FAILED $u: $(echo "$out" | tail -1)"
        failed=$((failed + 1))
    elif [ "$(where "$u")" != "$TARGET" ]; then
        say "FAILED $u: renamed, but the master still says $(where "$u")"
        failed=$((failed + 1))
    else
        say "moved  $u: $from -> $TARGET"
        moved=$((moved + 1))
    fi
done <"$FILE"

if [ "$DRY_RUN" = 1 ]; then
    say "dry run: $planned to move, $skipped already on $TARGET, $failed failed; nothing changed"
else
    say "$moved moved, $skipped already on $TARGET, $failed failed"
fi
[ "$failed" = 0 ]
