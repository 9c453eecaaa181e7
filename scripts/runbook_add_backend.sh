#!/usr/bin/env bash
# Add a backend to a running murder (the seed's procedure): check that it is up and that the
# murder's identities work with it, import its mailbox list into the master, and make the
# frontends send new mailboxes there.
#
# Usage: runbook_add_backend.sh [--dry-run] BACKEND
#
# Before: configure the backend (mupdate_server, mupdate_authname/password, proxyservers
# listing the frontends' proxy user, admins) and describe it in the topology (the local
# murder's are known; elsewhere add it to topology.json).
#
# 1. murderstatus: the master and BACKEND must be up.
# 2. testauth: every check of the master and BACKEND must pass (its mupdate identity is an
#    admin on the master, the proxy user may proxy there and is not an admin).
# 3. The import (runbook_import_mailboxes.sh): plan, then push.
# 4. The frontend's serverlist (when its imapd.conf is here): BACKEND is added if missing,
#    then the frontend restarted (local murder) or you are told to restart it.
# Safe to rerun: every step checks before it changes anything. --dry-run changes nothing.
source "$(dirname "$0")/lib/runbook.sh"
need_jq

ARGS=()
while [ $# -gt 0 ]; do
    case $1 in
        --dry-run|-n) DRY_RUN=1; ARGS+=(--dry-run); shift ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) break ;;
    esac
done
[ $# -eq 1 ] || die "usage: $0 [--dry-run] BACKEND"
BACKEND=$1

say "== 1. is $BACKEND up?"
status=$(m -o json -e "murderstatus $TOPO" || true)
echo "$status" | any_row '.role=="backend" and .name==$b' --arg b "$BACKEND" \
    || die "$BACKEND is not in the murder's topology (describe it first)"
echo "$status" | any_row '.role=="backend" and .name==$b and .up' --arg b "$BACKEND" \
    || die "$BACKEND does not answer: start it first"
echo "$status" | any_row '.role=="master" and .up' \
    || die "the master does not answer: start it first"
say "$BACKEND and the master are up"

say "== 2. identities"
auth=$(m -o json -e "testauth $TOPO" || true)
bad=$(echo "$auth" | jq -r --arg b "$BACKEND" \
    'select((.server==$b or .server=="master") and (.ok|not)) | .diagnosis')
if [ -n "$bad" ]; then
    printf '%s\n' "$bad"
    die "fix the identities above first"
fi
say "testauth: $BACKEND and the master pass"

say "== 3. import $BACKEND's mailboxes"
rc=0
"$(dirname "$0")/runbook_import_mailboxes.sh" "${ARGS[@]}" "$BACKEND" || rc=$?

say "== 4. frontends' serverlist"
home=${MURDER_HOME:-$HOME/.local/state/murder}
if is_local; then
    conf="$home/frontend/imapd.conf"
    list=$(sed -n 's/^serverlist:[[:space:]]*//p' "$conf")
    if printf ' %s ' "$list" | grep -q " $BACKEND "; then
        say "serverlist already has $BACKEND: $list"
    else
        add_to_serverlist() {
            if grep -q '^serverlist:' "$conf"; then
                sed -i "s/^serverlist:.*/serverlist: $list $BACKEND/" "$conf"
            else
                echo "serverlist: $BACKEND" >>"$conf"
            fi
            "$MURDER" local restart frontend
        }
        change "add $BACKEND to the frontend's serverlist and restart the frontend" add_to_serverlist
    fi
else
    say "on each frontend: make sure serverlist in imapd.conf names $BACKEND, then restart it"
fi
exit "$rc"
