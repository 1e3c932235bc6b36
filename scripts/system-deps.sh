#!/usr/bin/env bash
# Installs the system programs the test suite runs for real, from Debian's packages, if they are missing:
# PostgreSQL (the storage and replica tests start a throwaway cluster), Chromium (the browser test) and FriBiDi
# (Pillow's libraqm layout loads it: the cards' right-to-left text and emoji sequences are tested with it).
# Without root or apt it says what is missing; those tests then skip with a clear reason (CI fails them).
# When another apt or dpkg is running, it waits for it (SYSTEM_DEPS_LOCK_WAIT seconds, 10 minutes by default).
set -euo pipefail

LOCK_WAIT=${SYSTEM_DEPS_LOCK_WAIT:-600}
RETRY_EVERY=2
if [ $((LOCK_WAIT % 60)) -eq 0 ]; then SPAN="$((LOCK_WAIT / 60)) minutes"; else SPAN="$LOCK_WAIT seconds"; fi

missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
compgen -G "/usr/lib/*/libfribidi.so.0" >/dev/null || compgen -G "/usr/lib*/libfribidi.so.0" >/dev/null || missing+=(libfribidi0)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: not installing ${missing[*]} (needs root and apt-get); the tests that need them will skip" >&2
    exit 0
fi

# apt-get "$@", waiting until LOCK_WAIT seconds have passed in all for another apt or dpkg to finish. apt waits
# for the dpkg lock itself (DPkg::Lock::Timeout, apt >= 1.9.11), but gives up at once on the others, such as
# the package lists' lock that `apt-get update` takes: those are retried here. The first wait is announced.
deadline=$((SECONDS + LOCK_WAIT))
announced=""
apt_get() {
    local output
    output=$(mktemp)
    while true; do
        # Until a wait is announced, apt must not wait inside, silently: the first try fails at once instead.
        local wait=0
        [ -n "$announced" ] && wait=$((deadline > SECONDS ? deadline - SECONDS : 0))
        if apt-get -o DPkg::Lock::Timeout="$wait" "$@" >"$output" 2>&1; then
            rm -f "$output"
            return 0
        fi
        local held
        held=$(grep -m1 -o 'Could not get lock .*' "$output" || true)
        if [ -z "$held" ] || [ "$SECONDS" -ge "$deadline" ]; then
            [ -n "$held" ] && echo "system-deps: gave up after waiting $SPAN for another apt or dpkg" >&2
            cat "$output" >&2
            rm -f "$output"
            return 1
        fi
        if [ -z "$announced" ]; then
            echo "system-deps: another apt or dpkg is running (${held}); waiting for it, up to $SPAN" >&2
            announced=yes
        fi
        sleep "$RETRY_EVERY"
    done
}

echo "system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt_get update -qq
apt_get install -y -qq --no-install-recommends "${missing[@]}"
# The Debian package starts a cluster of its own; the tests start theirs on a free port instead.
if [[ " ${missing[*]} " == *" postgresql "* ]] && command -v pg_ctlcluster >/dev/null 2>&1; then
    for cluster in /etc/postgresql/*/main; do
        [ -d "$cluster" ] && pg_ctlcluster "$(basename "$(dirname "$cluster")")" main stop 2>/dev/null || true
    done
fi
