#!/usr/bin/env bash
# Install the system pieces the benchmarks compare against, from Debian's packages,
# idempotently:
#
#   sudo scripts/install-bench-deps.sh        # or as root in CI
#
#   sip-tester   SIPp, the reference REGISTER load generator of `python -m benchmarks
#                registration` (its binary is `sipp`; no service, nothing to start)
#
# The Kamailio the benchmarks register against comes from scripts/install-kamailio.sh
# (the harness in tests/kamailio runs it when it is missing and we are root).
#
# - Installs only what is missing; runs `apt-get update` only then.
# - Non-interactive (DEBIAN_FRONTEND=noninteractive, keeps existing conffiles).
set -euo pipefail

PACKAGES=(sip-tester)

log() { printf 'install-bench-deps: %s\n' "$*" >&2; }

is_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = "installed" ]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done

if [ "${#missing[@]}" -eq 0 ]; then
    log "already installed: ${PACKAGES[*]} ($(dpkg-query -W -f='${Version}' sip-tester))"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    log "missing packages: ${missing[*]}; run this script as root (or: sudo apt-get install ${missing[*]})"
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive

log "installing: ${missing[*]}"
apt-get update -q
apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}"

for pkg in "${PACKAGES[@]}"; do
    if ! is_installed "$pkg"; then
        log "package $pkg did not install"
        exit 1
    fi
done

if ! command -v sipp >/dev/null 2>&1; then
    log "sip-tester is installed but no sipp binary is on PATH"
    exit 1
fi

log "installed: ${PACKAGES[*]} ($(dpkg-query -W -f='${Version}' sip-tester))"
exit 0
