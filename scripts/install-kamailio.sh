#!/usr/bin/env bash
# Install the Kamailio the test suite runs (Debian's packages), idempotently.
#
#   sudo scripts/install-kamailio.sh        # or as root in CI
#
# - Installs only what is missing; runs `apt-get update` only then.
# - Non-interactive (DEBIAN_FRONTEND=noninteractive, keeps existing conffiles).
# - The Debian package may want to start a system `kamailio` service on 5060.
#   While we install, a temporary policy-rc.d (only if the machine has none)
#   keeps the package from starting services. We never stop a service that is
#   already running: the suite's own Kamailio listens on free loopback ports
#   picked at run time, with its own pid file and ctl socket, so the two coexist.
set -euo pipefail

PACKAGES=(kamailio kamailio-websocket-modules kamailio-tls-modules kamailio-sqlite-modules)

log() { printf 'install-kamailio: %s\n' "$*" >&2; }

is_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = "installed" ]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done

if [ "${#missing[@]}" -eq 0 ]; then
    log "already installed: ${PACKAGES[*]} ($(dpkg-query -W -f='${Version}' kamailio))"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    log "missing packages: ${missing[*]}; run this script as root (or: sudo apt-get install ${missing[*]})"
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive

# Keep the package's maintainer scripts from starting the system service, but
# only with a policy-rc.d of our own: an existing one is the machine's, left as is.
POLICY=/usr/sbin/policy-rc.d
our_policy=0
cleanup() {
    if [ "$our_policy" -eq 1 ]; then
        rm -f "$POLICY"
    fi
}
trap cleanup EXIT
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\n# temporary, from install-kamailio.sh: do not start services while installing\nexit 101\n' >"$POLICY"
    chmod 0755 "$POLICY"
    our_policy=1
fi

log "installing: ${missing[*]}"
apt-get update -q
apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}"

cleanup
our_policy=0

for pkg in "${PACKAGES[@]}"; do
    if ! is_installed "$pkg"; then
        log "package $pkg did not install"
        exit 1
    fi
done
log "installed: $(kamailio -v 2>/dev/null | head -n 1 || echo kamailio)"

# Report (never stop) a system Kamailio that may be running: the suite's own
# instance picks free loopback ports, so it does not collide with one on 5060.
if command -v pgrep >/dev/null 2>&1 && pgrep -x kamailio >/dev/null 2>&1; then
    log "note: a kamailio process not started by the suite is running (pids: $(pgrep -x kamailio | tr '\n' ' ')); left alone: the suite uses its own free ports"
fi
exit 0
