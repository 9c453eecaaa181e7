# Shared by the runbooks (scripts/runbook_*.sh): how they call the shell, dry runs, output.
# Sourced, not run.
#
# Environment:
#   MURDER            the shell (default: `murder` on PATH)
#   MURDER_HOME       the local murder's state directory, or where topology.json lives
#   MURDER_TOPOLOGY   a topology file describing another murder (see `help murderdiff`)
#   MURDER_CONNECT    how to reach a frontend for IMAP commands, as words for the shell
#                     (e.g. "imap.example.com -u cyrus --password-file /root/cyrus.pw");
#                     default: the local murder's frontend (its murder.json)
set -euo pipefail

MURDER=${MURDER:-murder}
# Scripts must never start a local murder behind the operator's back.
export MURDER_AUTOSTART=0
DRY_RUN=0

say() { printf '%s\n' "$*"; }
die() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; exit 2; }

# `--topology FILE` for the murder-wide commands, when MURDER_TOPOLOGY is set.
TOPO=""
if [ -n "${MURDER_TOPOLOGY:-}" ]; then TOPO="--topology $MURDER_TOPOLOGY"; fi

# Murder-wide commands (murderdiff, murderresync, ...): no IMAP connection needed.
# Usage: m [shell options...] -e 'command line'
m() { "$MURDER" --no-connect "$@"; }

# Commands over an IMAP connection to a frontend.
fcmd() {
    # shellcheck disable=SC2086
    "$MURDER" ${MURDER_CONNECT:-} -e "$1"
}

# Whether this is the local murder (so its daemons can be restarted from here).
is_local() {
    [ -z "${MURDER_TOPOLOGY:-}" ] || return 1
    local home=${MURDER_HOME:-$HOME/.local/state/murder}
    [ -f "$home/murder.json" ] && [ ! -f "$home/topology.json" ]
}

# Runs a changing step, or says what it would do in a dry run.
change() {
    if [ "$DRY_RUN" = 1 ]; then
        say "dry run: would $1"
        return 0
    fi
    say "$1"
    shift
    "$@"
}

need_jq() { command -v jq >/dev/null || die "jq is needed (apt-get install jq)"; }

# Whether any JSON line on stdin matches a jq condition: any_row 'COND' [jq options...].
# (jq -e alone judges only the last input, whatever matched before.)
any_row() {
    local cond=$1
    shift
    jq -s -e "$@" "any(.[]; $cond)" >/dev/null
}
